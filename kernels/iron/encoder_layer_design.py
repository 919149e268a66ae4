"""One whole Whisper encoder layer per launch on the Ryzen AI npu1 array (4 columns x 4 compute rows), in IRON
(mlir-aie's aie.iron API). Prints the MLIR that aiecc.py turns into final.xclbin + insts.bin.

Kernel arguments (core/backend/npu/xrt/xrt_layer_design.h), i.e. the runtime sequence's buffers in order:
  3 layer image (kernels/encoder_layer.h) plus slack, 4 x_in, 5 x_out (float32 [padded rows][d_model] plus
  slack), 6 scratch (layout.scratch_layout), 7 unused (the host passes a small dummy buffer).

The layer is kernels/encoder_layer_program.cc step for step (phases() lists the steps; a test compares them
with the C++): LN1 + quantise, the Q, K, V projections, per head Q and K quantised per token, V transposed and
quantised per channel, Q.K^T with the attention softmax and P.V, the attended rows quantised, the out
projection added to the residual, LN2 + quantise, fc1 + GELU, the hidden rows quantised, fc2 added to the
residual. Every tile call is an entry point of kernels/*.cc or layer_glue.cc with the host program's formats.

Data movement. Each of the 16 compute tiles has the same three ObjectFifos of 4 KiB messages, reused by every
phase: in_a (host -> shim -> memtile split: each tile of a column gets its own messages), in_b (host -> shim ->
memtile, broadcast to the column's four tiles: weights and anything the four tiles share) and out (tile ->
memtile join -> shim -> host). That is 2 S2MM + 1 MM2S channels per compute tile and 6 + 6 per memtile, within
AIE2's limits. Between phases the data goes through host memory (scratch), each phase's transfers in one
runtime task group that is finished before the next phase starts. Weights are streamed from the layer image
in 64x64 int8 blocks through the memtiles, once per group of four row blocks.

Work split: a GEMM's output column blocks go round-robin to the four columns, and the column's four tiles take
four consecutive 64-row blocks with the same weight stream; attention heads go round-robin to the columns,
the column's tiles take four query blocks of the head while K and V of the head are broadcast to them; row
phases give every tile its own rows.

Status: checked here with `python3 -m py_compile`, the pure-Python plan (phases(), tile memory, message
streams and their compression into DMA patterns) and the host equivalence of the glue entry points
(tests/unit/test_xrt_iron.cpp). No mlir-aie toolchain or NPU was available: build() has never been run.
"""

import argparse
import math
import sys

import layout

BLOCK = 64  # the GEMM block (kernels/mm_int8.h kGemmBlockM/K/N); also the head dimension the design needs
COLUMNS = 4
ROWS = 4
TILES = COLUMNS * ROWS
MESSAGE = layout.MESSAGE_BYTES
FIFO_DEPTH = 2
TILE_MEMORY_BYTES = 64 * 1024  # AIE2 compute tile data memory
STACK_BYTES = 1024

# Local buffers of every compute tile, reused by the phases (bytes).
TILE_BUFFERS = {
    "work": 16 * 1024,  # GEMM accumulator / Q.K^T scores (int32 64x64), row windows and the output row
    "acc": 16 * 1024,  # P.V accumulator, requantised float block, LayerNorm gamma + beta, a quantised row
    "p8": 4 * 1024,  # attention probabilities (int8 64x64), 64 floats of working memory elsewhere
    "stat_a": 256,  # 64 floats: row scales / row maxima
    "stat_b": 256,  # 64 floats: column scales / row sums
    "stat_c": 256,  # 64 floats: biases / V channel scales
    "stat_d": 256,  # 64 floats: V channel absolute maxima -> scales
}


def tile_memory_bytes():
    """Data memory of one compute tile: the three message fifos, the local buffers and the stack."""
    return 3 * FIFO_DEPTH * MESSAGE + sum(TILE_BUFFERS.values()) + STACK_BYTES


assert tile_memory_bytes() <= TILE_MEMORY_BYTES, "the tile buffers exceed the 64 KiB data memory"

# Tile entry points (extern "C" in kernels/*.cc and kernels/iron/layer_glue.cc) and the object files
# build_designs.py compiles them into. tests/unit/test_xrt_iron.cpp checks each name exists.
KERNEL_OBJECTS = {
    "zero_i32_64x64": "mm_int8.o",
    "matmul_i8_i32_64x64x64": "mm_int8.o",
    "gelu_row_f32": "layer_glue.o",
    "copy_to_offset": "layer_glue.o",
    "copy_from_offset": "layer_glue.o",
    "ln_row_to_a8": "layer_glue.o",
    "quantize_bf16_row_to_a8": "layer_glue.o",
    "requantize_rows_64": "layer_glue.o",
    "pack_bf16": "layer_glue.o",
    "quantize_head_rows": "layer_glue.o",
    "v_absmax_rows": "layer_glue.o",
    "zero_floats": "layer_glue.o",
    "scales_from_absmax": "layer_glue.o",
    "v_transpose_quantize_rows": "layer_glue.o",
    "attention_init_rows": "layer_glue.o",
    "attention_row_max": "layer_glue.o",
    "attention_probabilities": "layer_glue.o",
    "attention_output_rows": "layer_glue.o",
}

# RequantOutput (kernels/mm_int8.h)
STORE_F32, STORE_BF16, ACCUMULATE_F32 = 1, 2, 3

# Runtime sequence buffers (kernel arguments 3..6).
LAYER, X_IN, X_OUT, SCRATCH = "layer", "x_in", "x_out", "scratch"
BUFFERS = (LAYER, X_IN, X_OUT, SCRATCH)


def ceildiv(a, b):
    return (a + b - 1) // b


def check_shape(d_model, n_head, n_ctx):
    if d_model <= 0 or d_model % BLOCK:
        raise ValueError(f"d_model={d_model} must be a multiple of {BLOCK}")
    if n_head <= 0 or d_model % n_head:
        raise ValueError(f"d_model={d_model} is not divisible by n_head={n_head}")
    if d_model // n_head != BLOCK:
        raise ValueError(f"head dimension {d_model // n_head} must be {BLOCK} (the GEMM block)")
    if n_ctx <= 0:
        raise ValueError("n_ctx must be positive")


class Shape:
    def __init__(self, d_model, n_head, n_ctx):
        check_shape(d_model, n_head, n_ctx)
        self.d, self.n_head, self.n_ctx = d_model, n_head, n_ctx
        self.d_ff = 4 * d_model
        self.head_dim = d_model // n_head
        self.rows = layout.padded_rows(n_ctx)
        self.row_blocks = self.rows // BLOCK
        self.groups = self.row_blocks // ROWS  # groups of four row blocks, one per tile row
        self.a8_stride = layout.a8_row_stride(self.d_ff)
        self.layer = layout.encoder_layer_layout(self.d, self.d_ff)
        self.scratch = layout.scratch_layout(n_ctx, self.d, n_head, self.d_ff)

    def valid_rows(self, block):
        """Real (not padding) rows of 64-row block `block`."""
        return max(0, min(BLOCK, self.n_ctx - BLOCK * block))

    def heads_of_column(self, col):
        return [h for h in range(self.n_head) if h % COLUMNS == col]


# ---- The phase plan (pure Python) -------------------------------------------------------------------------
#
# Each phase: the host program step(s) it performs (host_function, host_calls: the calls in that function's
# source, in order; the Q, K, V loop of the program is three phases that list its two calls once), the entry points
# it calls, its tile-local working memory and how its messages flow. phases() is what the tests compare with
# kernels/encoder_layer_program.cc and kernels/attention.cc.

def _gemm(name, weight, scale, bias, n_out, k, mode, source, destination, gelu=False, repeat=1, calls=None):
    return {
        "name": name, "kind": "gemm", "host_function": "run_encoder_layer",
        "host_calls": ["gemm.run", "requantize_rows"] if calls is None else calls, "repeat": repeat,
        "weight": weight, "scale": scale, "bias": bias, "n_out": n_out, "k": k, "mode": mode,
        "source": source, "destination": destination, "gelu": gelu,
    }


def _rows(name, kind, host_calls, source, width, params=None):
    return {"name": name, "kind": kind, "host_function": "run_encoder_layer", "host_calls": host_calls,
            "repeat": 1, "source": source, "width": width, "params": params}


def phases(d_model, n_head, n_ctx=layout.N_CTX):
    """The layer's phases in execution order, each with its per-tile needs. Pure Python (no mlir-aie)."""
    s = Shape(d_model, n_head, n_ctx)
    d, d_ff = s.d, s.d_ff
    plan = [
        _rows("ln1_quantise", "layernorm_rows", ["normalise_and_quantise"], (X_IN, 0), d, ("ln1_gamma", "ln1_beta")),
        _gemm("qkv_projection_q", "wq", "sq", "bq", d, d, STORE_BF16, None, (SCRATCH, "q")),
        _gemm("qkv_projection_k", "wk", "sk", "bk", d, d, STORE_BF16, None, (SCRATCH, "k"), calls=[]),
        _gemm("qkv_projection_v", "wv", "sv", "bv", d, d, STORE_BF16, None, (SCRATCH, "v"), calls=[]),
        {"name": "attention_quantise_qk", "kind": "quantise_qk", "host_function": "attention_head",
         "host_calls": ["quantize_rows_i8", "quantize_rows_i8"], "repeat": 1},
        {"name": "attention_quantise_v", "kind": "quantise_v", "host_function": "attention_head",
         "host_calls": ["quantize_rows_i8"], "repeat": 1},
        {"name": "attention_core", "kind": "attention", "host_function": "attention_head",
         "host_calls": ["gemm.run", "attention_softmax_row", "gemm.run", "requantize_rows"], "repeat": 1},
        _rows("quantise_attended", "quantise_rows", ["quantize_rows_i8"], (SCRATCH, "attn"), d),
        _gemm("out_projection", "wo", "so", "bo", d, d, ACCUMULATE_F32, X_IN, X_OUT),
        _rows("ln2_quantise", "layernorm_rows", ["normalise_and_quantise"], (X_OUT, 0), d, ("ln2_gamma", "ln2_beta")),
        _gemm("fc1_gelu", "w_up", "s_up", "b_up", d_ff, d, STORE_BF16, None, (SCRATCH, "hidden"), gelu=True,
              calls=["gemm.run", "requantize_rows", "gelu_rows_bf16"]),
        _rows("quantise_hidden", "quantise_rows", ["quantize_rows_i8"], (SCRATCH, "hidden"), d_ff),
        _gemm("fc2", "w_down", "s_down", "b_down", d, d_ff, ACCUMULATE_F32, X_OUT, X_OUT),
    ]
    for phase in plan:
        phase["kernels"] = _phase_kernels(phase)
        phase["local_bytes"] = _local_bytes(s, phase)
        for buffer, used in phase["local_bytes"].items():
            if used > TILE_BUFFERS[buffer]:
                raise ValueError(f"{phase['name']}: needs {used} bytes of '{buffer}' per tile, "
                                 f"has {TILE_BUFFERS[buffer]}")
    return plan


def _phase_kernels(phase):
    kind = phase["kind"]
    if kind == "gemm":
        names = ["copy_from_offset", "zero_i32_64x64", "matmul_i8_i32_64x64x64", "requantize_rows_64"]
        if phase["mode"] == ACCUMULATE_F32:
            names.insert(-1, "copy_to_offset")
        else:
            names += ["gelu_row_f32"] if phase["gelu"] else []
            names += ["pack_bf16"]
        return names
    return {
        "layernorm_rows": ["copy_to_offset", "ln_row_to_a8", "copy_from_offset"],
        "quantise_rows": ["copy_to_offset", "quantize_bf16_row_to_a8", "copy_from_offset"],
        "quantise_qk": ["quantize_head_rows"],
        "quantise_v": ["zero_floats", "v_absmax_rows", "scales_from_absmax", "copy_to_offset",
                       "v_transpose_quantize_rows"],
        "attention": ["attention_init_rows", "zero_i32_64x64", "matmul_i8_i32_64x64x64", "attention_row_max",
                      "copy_from_offset", "attention_probabilities", "attention_output_rows"],
    }[kind]


def _windows(row_bytes):
    return ceildiv(row_bytes, MESSAGE)


def _local_bytes(s, phase):
    kind = phase["kind"]
    if kind == "layernorm_rows":
        x = _windows(4 * phase["width"]) * MESSAGE
        return {"work": x + s.a8_stride, "acc": 2 * x}
    if kind == "quantise_rows":
        return {"work": _windows(2 * phase["width"]) * MESSAGE, "acc": s.a8_stride, "p8": 4 * BLOCK}
    if kind == "gemm":
        return {"work": 4 * BLOCK * BLOCK, "acc": 4 * BLOCK * BLOCK, "stat_a": 256, "stat_b": 256, "stat_c": 256}
    if kind == "quantise_qk":
        return {"p8": 4 * BLOCK}
    if kind == "quantise_v":
        return {"stat_d": 4 * s.head_dim, "p8": 4 * BLOCK}
    return {"work": 4 * BLOCK * BLOCK, "acc": 4 * BLOCK * s.head_dim, "p8": BLOCK * BLOCK,
            "stat_a": 256, "stat_b": 256, "stat_c": 256}


# ---- Message streams: what every fifo carries, per column, in order -----------------------------------------
#
# A message is (buffer, byte offset, dims) with dims [(size, stride)] outermost first in bytes, the innermost
# contiguous; sizes multiply to MESSAGE. in_a and out carry four messages per step, one per tile row (the
# memtile split/join order); in_b is broadcast, so it carries one sequence for the whole column.

def _contiguous(buffer, offset):
    return (buffer, offset, ((MESSAGE, 1),))


def _rows_msg(buffer, offset, rows, row_bytes, stride):
    assert rows * row_bytes == MESSAGE
    return (buffer, offset, ((rows, stride), (row_bytes, 1)))


def _section(s, where):
    buffer, section = where
    if buffer == SCRATCH:
        return buffer, s.scratch[section]
    return buffer, section


def column_streams(s, phase, col):
    """The in_a, in_b and out message lists of one phase in one column."""
    in_a, in_b, out = [], [], []
    kind = phase["kind"]
    if kind == "gemm":
        n_out, k = phase["n_out"], phase["k"]
        lb = s.layer
        for j in range(col, n_out // BLOCK, COLUMNS):
            for g in range(s.groups):
                in_b.append(_contiguous(LAYER, lb[phase["scale"]] + 4 * BLOCK * j))
                in_b.append(_contiguous(LAYER, lb[phase["bias"]] + 4 * BLOCK * j))
                for p in range(k // BLOCK):
                    in_b.append(_rows_msg(LAYER, lb[phase["weight"]] + BLOCK * j * k + BLOCK * p, BLOCK, BLOCK, k))
                blocks = [ROWS * g + r for r in range(ROWS)]
                # Row scales: 64 floats from the a8 rows' tails, repeated 16 times to fill a message.
                for i in blocks:
                    base = s.scratch["a8"] + BLOCK * i * s.a8_stride + s.a8_stride - 4
                    in_a.append((SCRATCH, base, ((MESSAGE // 256, 0), (BLOCK, s.a8_stride), (4, 1))))
                for p in range(k // BLOCK):
                    for i in blocks:
                        in_a.append(_rows_msg(SCRATCH, s.scratch["a8"] + BLOCK * i * s.a8_stride + BLOCK * p,
                                              BLOCK, BLOCK, s.a8_stride))
                if phase["mode"] == ACCUMULATE_F32:
                    for q in range(4):
                        for i in blocks:
                            row = BLOCK * i + 16 * q
                            in_a.append(_rows_msg(phase["source"], 4 * (row * s.d + BLOCK * j), 16, 256, 4 * s.d))
                            out.append(_rows_msg(phase["destination"], 4 * (row * s.d + BLOCK * j), 16, 256,
                                                 4 * s.d))
                else:
                    buffer, base = _section(s, phase["destination"])
                    for h in range(2):
                        for i in blocks:
                            row = BLOCK * i + 32 * h
                            out.append(_rows_msg(buffer, base + 2 * (row * n_out + BLOCK * j), 32, 128, 2 * n_out))
        return in_a, in_b, out
    if kind in ("layernorm_rows", "quantise_rows"):
        width = phase["width"]
        element = 4 if kind == "layernorm_rows" else 2
        buffer, base = _section(s, phase["source"])
        if kind == "layernorm_rows":
            for name in phase["params"]:
                for w in range(_windows(4 * width)):
                    in_b.append(_contiguous(LAYER, s.layer[name] + MESSAGE * w))
        for step in range(s.rows // TILES):
            rows = [TILES * step + ROWS * col + r for r in range(ROWS)]
            for w in range(_windows(element * width)):
                for row in rows:
                    in_a.append(_contiguous(buffer, base + element * width * row + MESSAGE * w))
            for w in range(s.a8_stride // MESSAGE):
                for row in rows:
                    out.append(_contiguous(SCRATCH, s.scratch["a8"] + row * s.a8_stride + MESSAGE * w))
        return in_a, in_b, out
    if kind == "quantise_qk":
        for which in ("q", "k"):
            for h in s.heads_of_column(col):
                for g in range(s.groups):
                    blocks = [ROWS * g + r for r in range(ROWS)]
                    for half in range(2):
                        for b in blocks:
                            row = BLOCK * b + 32 * half
                            in_a.append(_rows_msg(SCRATCH, s.scratch[which] + 2 * (row * s.d + s.head_dim * h),
                                                  32, 2 * s.head_dim, 2 * s.d))
                    for section in (which + "8", which + "_scales"):
                        for b in blocks:
                            out.append(_contiguous(SCRATCH, s.scratch[section] + MESSAGE * (h * s.row_blocks + b)))
        return in_a, in_b, out
    if kind == "quantise_v":
        for h in s.heads_of_column(col):
            for b in range(s.row_blocks):
                for half in range(2):
                    row = BLOCK * b + 32 * half
                    in_b.append(_rows_msg(SCRATCH, s.scratch["v"] + 2 * (row * s.d + s.head_dim * h), 32,
                                          2 * s.head_dim, 2 * s.d))
            for r in range(ROWS):
                out.append(_contiguous(SCRATCH, s.scratch["v_scales"] + MESSAGE * (ROWS * h + r)))
            for g in range(s.groups):
                blocks = [ROWS * g + r for r in range(ROWS)]
                for half in range(2):
                    for b in blocks:
                        row = BLOCK * b + 32 * half
                        in_a.append(_rows_msg(SCRATCH, s.scratch["v"] + 2 * (row * s.d + s.head_dim * h), 32,
                                              2 * s.head_dim, 2 * s.d))
                for b in blocks:
                    out.append(_contiguous(SCRATCH, s.scratch["v8t"] + MESSAGE * (h * s.row_blocks + b)))
        return in_a, in_b, out
    # attention
    for h in s.heads_of_column(col):
        for g in range(s.groups):
            blocks = [ROWS * g + r for r in range(ROWS)]
            for section in ("q8", "q_scales"):
                for b in blocks:
                    in_a.append(_contiguous(SCRATCH, s.scratch[section] + MESSAGE * (h * s.row_blocks + b)))
            for kb in range(s.row_blocks):
                for section in ("k8", "k_scales"):
                    in_b.append(_contiguous(SCRATCH, s.scratch[section] + MESSAGE * (h * s.row_blocks + kb)))
            in_b.append(_contiguous(SCRATCH, s.scratch["v_scales"] + MESSAGE * ROWS * h))
            for kb in range(s.row_blocks):
                for section in ("k8", "k_scales", "v8t"):
                    in_b.append(_contiguous(SCRATCH, s.scratch[section] + MESSAGE * (h * s.row_blocks + kb)))
            for half in range(2):
                for b in blocks:
                    row = BLOCK * b + 32 * half
                    out.append(_rows_msg(SCRATCH, s.scratch["attn"] + 2 * (row * s.d + s.head_dim * h), 32,
                                         2 * s.head_dim, 2 * s.d))
    return in_a, in_b, out


def expand(message):
    """The byte addresses a message (or a compressed transfer) reads or writes, in order."""
    buffer, offset, dims = message
    addresses = [offset]
    for size, stride in dims:
        addresses = [a + i * stride for a in addresses for i in range(size)]
    return buffer, addresses


MAX_DIMS = 4  # shim DMA: three dimensions plus a repeat


def compress(messages):
    """Merges consecutive messages into DMA transfers: a run with the same buffer and dims whose offsets step
    evenly becomes one transfer with one more (outer) dimension, and runs of runs likewise, up to MAX_DIMS."""
    transfers = [(buffer, offset, tuple(dims)) for buffer, offset, dims in messages]
    while True:
        merged, i, changed = [], 0, False
        while i < len(transfers):
            buffer, offset, dims = transfers[i]
            j = i + 1
            step = None
            if len(dims) < MAX_DIMS:
                while j < len(transfers) and transfers[j][0] == buffer and transfers[j][2] == dims:
                    delta = transfers[j][1] - transfers[j - 1][1]
                    if step is None:
                        step = delta
                    elif delta != step:
                        break
                    j += 1
            if j - i > 1:
                merged.append((buffer, offset, ((j - i, step),) + dims))
                changed = True
            else:
                merged.append(transfers[i])
                j = i + 1
            i = j
        transfers = merged
        if not changed:
            return transfers


def check_streams(s, phase):
    """Per column: every tile gets whole steps, transfers reproduce the messages exactly; returns the number
    of DMA transfers of the phase (all columns)."""
    count = 0
    for col in range(COLUMNS):
        for name, messages in zip(("in_a", "in_b", "out"), column_streams(s, phase, col)):
            if name != "in_b" and len(messages) % ROWS:
                raise AssertionError(f"{phase['name']} column {col} {name}: {len(messages)} messages, not whole steps")
            for buffer, offset, dims in messages:
                if math.prod(size for size, _ in dims) != MESSAGE or dims[-1][1] != 1 or offset % 4:
                    raise AssertionError(f"{phase['name']}: malformed message at {buffer}+{offset}")
            transfers = compress(messages)
            flat = [a for m in messages for a in expand(m)[1]]
            again = [a for t in transfers for a in expand(t)[1]]
            if flat != again:
                raise AssertionError(f"{phase['name']} column {col} {name}: compression changed the stream")
            count += len(transfers)
    return count


# ---- The IRON program -------------------------------------------------------------------------------------

def build(d_model, n_head, n_ctx, trace_size=0):
    """Returns the design's MLIR module text. Needs mlir-aie's Python package (aie.iron) and numpy."""
    s = Shape(d_model, n_head, n_ctx)
    plan = phases(d_model, n_head, n_ctx)
    try:
        import numpy as np
        from aie.helpers.taplib import TensorAccessPattern
        from aie.iron import Kernel, ObjectFifo, Program, Runtime, Worker
        from aie.iron.controlflow import range_
        from aie.iron.device import NPU1Col4, Tile
        from aie.iron.placers import SequentialPlacer
    except ImportError as error:
        raise RuntimeError(f"the mlir-aie Python package (aie.iron) and numpy are needed: {error}") from error
    try:
        from aie.iron import Buffer as LocalBuffer
    except ImportError:  # older IRON releases call tile-local buffers GlobalBuffer
        from aie.iron import GlobalBuffer as LocalBuffer

    def bytes_ty(count):
        return np.ndarray[(count,), np.dtype[np.int8]]

    msg_ty = bytes_ty(MESSAGE)
    l2_ty = bytes_ty(ROWS * MESSAGE)
    i32 = np.int32

    # Every pointer argument is declared as the byte buffer it receives; the C side gives it its type.
    def kernel(name, *args):
        return Kernel(name, KERNEL_OBJECTS[name], list(args))

    work_ty, acc_ty, p8_ty, stat_ty = (bytes_ty(TILE_BUFFERS[n]) for n in ("work", "acc", "p8", "stat_a"))
    k = {
        "zero": kernel("zero_i32_64x64", work_ty),
        "zero_acc": kernel("zero_i32_64x64", acc_ty),
        "matmul": kernel("matmul_i8_i32_64x64x64", msg_ty, msg_ty, work_ty),
        "matmul_pv": kernel("matmul_i8_i32_64x64x64", p8_ty, msg_ty, acc_ty),
        "gelu": kernel("gelu_row_f32", acc_ty, i32),
        "gather_work": kernel("copy_to_offset", work_ty, msg_ty, i32, i32),
        "gather_acc": kernel("copy_to_offset", acc_ty, msg_ty, i32, i32),
        "to_msg": kernel("copy_to_offset", msg_ty, msg_ty, i32, i32),
        "stat_to_msg": kernel("copy_to_offset", msg_ty, stat_ty, i32, i32),
        "msg_to_stat": kernel("copy_from_offset", stat_ty, msg_ty, i32, i32),
        "work_to_msg": kernel("copy_from_offset", msg_ty, work_ty, i32, i32),
        "acc_to_msg": kernel("copy_from_offset", msg_ty, acc_ty, i32, i32),
        "ln": kernel("ln_row_to_a8", work_ty, acc_ty, i32, i32, i32, i32),
        "quantise_row": kernel("quantize_bf16_row_to_a8", work_ty, p8_ty, acc_ty, i32, i32),
        "requant_acc": kernel("requantize_rows_64", work_ty, i32, i32, stat_ty, stat_ty, stat_ty, acc_ty, i32),
        "requant_msg": kernel("requantize_rows_64", work_ty, i32, i32, stat_ty, stat_ty, stat_ty, msg_ty, i32),
        "pack": kernel("pack_bf16", acc_ty, i32, msg_ty, i32),
        "quantise_head": kernel("quantize_head_rows", msg_ty, i32, i32, i32, i32, p8_ty, msg_ty, msg_ty),
        "v_absmax": kernel("v_absmax_rows", msg_ty, i32, i32, stat_ty),
        "zero_stat": kernel("zero_floats", stat_ty, i32),
        "scales": kernel("scales_from_absmax", stat_ty, i32),
        "v_quantise": kernel("v_transpose_quantize_rows", msg_ty, i32, i32, i32, i32, stat_ty, p8_ty, msg_ty),
        "attn_init": kernel("attention_init_rows", stat_ty, stat_ty),
        "attn_max": kernel("attention_row_max", work_ty, i32, msg_ty, msg_ty, i32, stat_ty),
        "attn_p": kernel("attention_probabilities", work_ty, i32, msg_ty, msg_ty, i32, stat_ty, p8_ty, stat_ty),
        "attn_out": kernel("attention_output_rows", acc_ty, stat_ty, stat_ty, i32, i32, i32, p8_ty, msg_ty),
    }

    # Fifos: per column one split (in_a), one broadcast (in_b) and one join (out), through the memtile.
    in_a_l3, in_b_l3, out_l3, in_a, in_b, out = [], [], [], [], [], []
    for col in range(COLUMNS):
        a3 = ObjectFifo(l2_ty, depth=FIFO_DEPTH, name=f"in_a_l3_{col}")
        in_a_l3.append(a3)
        in_a.append(a3.cons().split([MESSAGE * r for r in range(ROWS)], obj_types=[msg_ty] * ROWS,
                                    names=[f"in_a_{col}_{r}" for r in range(ROWS)], placement=Tile(col, 1)))
        b3 = ObjectFifo(msg_ty, depth=FIFO_DEPTH, name=f"in_b_l3_{col}")
        in_b_l3.append(b3)
        in_b.append(b3.cons().forward(name=f"in_b_{col}", placement=Tile(col, 1)))
        o3 = ObjectFifo(l2_ty, depth=FIFO_DEPTH, name=f"out_l3_{col}")
        out_l3.append(o3)
        out.append(o3.prod().join([MESSAGE * r for r in range(ROWS)], obj_types=[msg_ty] * ROWS,
                                  names=[f"out_{col}_{r}" for r in range(ROWS)], depths=[FIFO_DEPTH] * ROWS,
                                  placement=Tile(col, 1)))

    def loop(count, body):
        """Runs body count times: a hardware loop when count > 1 (keeps the program memory small)."""
        if count == 1:
            body()
        elif count > 1:
            for _ in range_(count):
                body()

    def runs(values):
        """[(value, run length)] of consecutive equal values."""
        result = []
        for v in values:
            if result and result[-1][0] == v:
                result[-1][1] += 1
            else:
                result.append([v, 1])
        return result

    def core_program(col, r):
        heads = len(s.heads_of_column(col))

        def program(a, b, o, work, acc, p8, st_a, st_b, st_c, st_d):
            def take(fifo, n=1):
                return fifo.acquire(n)

            def gemm_phase(phase):
                kb = phase["k"] // BLOCK
                items = len(range(col, phase["n_out"] // BLOCK, COLUMNS)) * s.groups

                def item():
                    params = take(b, 2)
                    k["msg_to_stat"](st_b, params[0], 0, 256)
                    k["msg_to_stat"](st_c, params[1], 0, 256)
                    b.release(2)
                    scales = take(a)
                    k["msg_to_stat"](st_a, scales, 0, 256)
                    a.release(1)
                    k["zero"](work)

                    def step():
                        x, w = take(a), take(b)
                        k["matmul"](x, w, work)
                        a.release(1)
                        b.release(1)

                    loop(kb, step)
                    if phase["mode"] == ACCUMULATE_F32:
                        for q in range(4):
                            residual, result = take(a), take(o)
                            k["to_msg"](result, residual, 0, MESSAGE)
                            k["requant_msg"](work, 16 * q, 16, st_a, st_b, st_c, result, ACCUMULATE_F32)
                            a.release(1)
                            o.release(1)
                    else:
                        k["requant_acc"](work, 0, BLOCK, st_a, st_b, st_c, acc, STORE_BF16)
                        if phase["gelu"]:
                            k["gelu"](acc, BLOCK * BLOCK)
                        for half in range(2):
                            result = take(o)
                            k["pack"](acc, 32 * BLOCK * half, result, 32 * BLOCK)
                            o.release(1)

                loop(items, item)

            def row_phase(phase):
                width = phase["width"]
                layernorm = phase["kind"] == "layernorm_rows"
                windows = _windows((4 if layernorm else 2) * width)
                x_bytes = windows * MESSAGE
                if layernorm:  # gamma then beta, each `windows` messages, into acc
                    for w in range(2 * windows):
                        m = take(b)
                        k["gather_acc"](acc, m, MESSAGE * w, MESSAGE)
                        b.release(1)

                def row():
                    for w in range(windows):
                        m = take(a)
                        k["gather_work"](work, m, MESSAGE * w, MESSAGE)
                        a.release(1)
                    if layernorm:
                        k["ln"](work, acc, x_bytes, width, x_bytes, s.a8_stride)
                    else:
                        k["quantise_row"](work, p8, acc, width, s.a8_stride)
                    for w in range(s.a8_stride // MESSAGE):
                        m = take(o)
                        if layernorm:
                            k["work_to_msg"](m, work, x_bytes + MESSAGE * w, MESSAGE)
                        else:
                            k["acc_to_msg"](m, acc, MESSAGE * w, MESSAGE)
                        o.release(1)

                loop(s.rows // TILES, row)

            def block_valid():  # valid rows of this tile's block in each group
                return [s.valid_rows(ROWS * g + r) for g in range(s.groups)]

            def quantise_qk_phase():
                def item(valid):
                    result = take(o, 2)
                    for half in range(2):
                        m = take(a)
                        k["quantise_head"](m, 32 * half, 32, valid, s.head_dim, p8, result[0], result[1])
                        a.release(1)
                    o.release(2)

                def head():
                    for valid, count in runs(block_valid()):
                        loop(count, lambda valid=valid: item(valid))

                loop(2 * heads, head)

            def quantise_v_phase():
                def head():
                    k["zero_stat"](st_d, s.head_dim)
                    halves = [max(0, min(32, s.n_ctx - 32 * i)) for i in range(2 * s.row_blocks)]
                    for valid, count in runs(halves):
                        def absmax(valid=valid):
                            m = take(b)
                            k["v_absmax"](m, valid, s.head_dim, st_d)
                            b.release(1)
                        loop(count, absmax)
                    k["scales"](st_d, s.head_dim)
                    m = take(o)
                    k["stat_to_msg"](m, st_d, 0, 4 * s.head_dim)
                    o.release(1)
                    for valid, count in runs(block_valid()):
                        def block(valid=valid):
                            vt = take(o)
                            for half in range(2):
                                m = take(a)
                                k["v_quantise"](m, 32 * half, 32, max(0, min(32, valid - 32 * half)), s.head_dim,
                                                st_d, p8, vt)
                                a.release(1)
                            o.release(1)
                        loop(count, block)

                loop(heads, head)

            def attention_phase():
                keys = [s.valid_rows(kb) for kb in range(s.row_blocks)]

                def item():
                    q = take(a, 2)
                    k["attn_init"](st_a, st_b)
                    for valid, count in runs(keys):
                        def score_max(valid=valid):
                            kk = take(b, 2)
                            k["zero"](work)
                            k["matmul"](q[0], kk[0], work)
                            k["attn_max"](work, valid, q[1], kk[1], s.head_dim, st_a)
                            b.release(2)
                        loop(count, score_max)
                    vs = take(b)
                    k["msg_to_stat"](st_c, vs, 0, 4 * s.head_dim)
                    b.release(1)
                    k["zero_acc"](acc)
                    for valid, count in runs(keys):
                        def probabilities(valid=valid):
                            kk = take(b, 2)
                            k["zero"](work)
                            k["matmul"](q[0], kk[0], work)
                            k["attn_p"](work, valid, q[1], kk[1], s.head_dim, st_a, p8, st_b)
                            b.release(2)
                            vt = take(b)
                            k["matmul_pv"](p8, vt, acc)
                            b.release(1)
                        loop(count, probabilities)
                    a.release(2)
                    for half in range(2):
                        m = take(o)
                        k["attn_out"](acc, st_b, st_c, 32 * half, 32, s.head_dim, p8, m)
                        o.release(1)

                loop(heads * s.groups, item)

            for phase in plan:
                kind = phase["kind"]
                if kind == "gemm":
                    gemm_phase(phase)
                elif kind in ("layernorm_rows", "quantise_rows"):
                    row_phase(phase)
                elif kind == "quantise_qk":
                    quantise_qk_phase()
                elif kind == "quantise_v":
                    quantise_v_phase()
                else:
                    attention_phase()

        return program

    workers = []
    for col in range(COLUMNS):
        for r in range(ROWS):
            buffers = [LocalBuffer(bytes_ty(TILE_BUFFERS[n]), name=f"{n}_{col}_{r}") for n in TILE_BUFFERS]
            workers.append(Worker(core_program(col, r),
                                  [in_a[col][r].cons(), in_b[col].cons(), out[col][r].prod()] + buffers,
                                  placement=Tile(col, 2 + r), stack_size=STACK_BYTES))

    sizes_bytes = {
        LAYER: layout.layer_buffer_bytes(s.layer["total_bytes"]),
        X_IN: layout.activation_bytes(n_ctx, s.d),
        X_OUT: layout.activation_bytes(n_ctx, s.d),
        SCRATCH: s.scratch["total_bytes"],
    }
    # Buffers in 32-bit words: every transfer is word aligned.
    types = {name: np.ndarray[(sizes_bytes[name] // 4,), np.dtype[np.int32]] for name in BUFFERS}

    def tap(name, offset, dims):
        dims = [(1, 0)] * (MAX_DIMS - len(dims)) + list(dims)
        words = [(size, stride // 4) for size, stride in dims[:-1]] + [(dims[-1][0] // 4, 1)]
        return TensorAccessPattern((1, sizes_bytes[name] // 4), offset // 4, [sz for sz, _ in words],
                                   [st for _, st in words])

    rt = Runtime()
    with rt.sequence(*(types[name] for name in BUFFERS)) as handles:
        host = dict(zip(BUFFERS, handles))
        rt.start(*workers)
        for phase in plan:
            group = rt.task_group()
            for col in range(COLUMNS):
                streams = column_streams(s, phase, col)
                for fifo, messages in ((in_a_l3[col].prod(), streams[0]), (in_b_l3[col].prod(), streams[1])):
                    for name, offset, dims in compress(messages):
                        rt.fill(fifo, host[name], tap=tap(name, offset, dims), task_group=group,
                                placement=Tile(col, 0))
                for name, offset, dims in compress(streams[2]):
                    rt.drain(out_l3[col].cons(), host[name], tap=tap(name, offset, dims), wait=True,
                             task_group=group, placement=Tile(col, 0))
            rt.finish_task_group(group)  # the next phase reads what this one wrote

    return str(Program(NPU1Col4(), rt).resolve_program(SequentialPlacer()))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d-model", type=int, required=True)
    parser.add_argument("--n-head", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=layout.N_CTX)
    parser.add_argument("--trace-size", type=int, default=0)
    parser.add_argument("--plan", action="store_true", help="print the phase plan and DMA transfer counts only")
    args = parser.parse_args(argv)
    try:
        if args.plan:
            s = Shape(args.d_model, args.n_head, args.n_ctx)
            for phase in phases(args.d_model, args.n_head, args.n_ctx):
                print(f"{phase['name']}: {check_streams(s, phase)} DMA transfers, kernels {', '.join(phase['kernels'])}")
            return 0
        print(build(args.d_model, args.n_head, args.n_ctx, args.trace_size))
    except (RuntimeError, ValueError) as error:
        sys.stderr.write(f"encoder_layer_design.py: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
