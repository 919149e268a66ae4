"""Byte layouts shared by the IRON layer design and the host, in plain Python (no mlir-aie needed).

Mirrors, offset for offset:
  - kernels/encoder_layer.h      encoder_layer_layout(d, d_ff)   the packed layer image (kernel argument 3)
  - core/backend/npu/xrt/xrt_layer_design.h
                                 xrt_scratch_layout(n, d, h, d_ff) the scratch buffer (kernel argument 6),
                                 xrt_activation_bytes, xrt_layer_buffer_bytes
                                 xrt_design_name(d, n_head, n)    where open_xrt_device() looks for a design
tests/unit/test_xrt_iron.cpp runs `python3 layout.py --json` and compares every offset with the C++.
"""

import json
import sys

ALIGNMENT = 64
HEADER_BYTES = 64
BF16_BYTES = 2
F32_BYTES = 4

# The official Whisper encoder shapes (d_model, n_head, layers); n_ctx is 1500 for all of them.
OFFICIAL_SHAPES = {
    "tiny": (384, 6, 4),
    "base": (512, 8, 6),
    "small": (768, 12, 12),
    "medium": (1024, 16, 24),
    "large": (1280, 20, 32),
}
N_CTX = 1500


def align_up(value, alignment=ALIGNMENT):
    return (value + alignment - 1) // alignment * alignment


class _Cursor:
    def __init__(self, start):
        self.at = start

    def take(self, size_bytes):
        offset = align_up(self.at)
        self.at = offset + size_bytes
        return offset


ENCODER_LAYER_SECTIONS = (
    "wq", "wk", "wv", "wo", "w_up", "w_down",
    "sq", "sk", "sv", "so", "s_up", "s_down",
    "bq", "bk", "bv", "bo", "b_up", "b_down",
    "ln1_gamma", "ln1_beta", "ln2_gamma", "ln2_beta",
)


def encoder_layer_layout(d, d_ff):
    """Offsets of the packed layer image (int8 weights [out][in], float32 scales/biases/LayerNorm)."""
    c = _Cursor(HEADER_BYTES)
    sizes = {
        "wq": d * d, "wk": d * d, "wv": d * d, "wo": d * d, "w_up": d_ff * d, "w_down": d * d_ff,
        "sq": F32_BYTES * d, "sk": F32_BYTES * d, "sv": F32_BYTES * d, "so": F32_BYTES * d,
        "s_up": F32_BYTES * d_ff, "s_down": F32_BYTES * d,
        "bq": F32_BYTES * d, "bk": F32_BYTES * d, "bv": F32_BYTES * d, "bo": F32_BYTES * d,
        "b_up": F32_BYTES * d_ff, "b_down": F32_BYTES * d,
        "ln1_gamma": F32_BYTES * d, "ln1_beta": F32_BYTES * d,
        "ln2_gamma": F32_BYTES * d, "ln2_beta": F32_BYTES * d,
    }
    layout = {name: c.take(sizes[name]) for name in ENCODER_LAYER_SECTIONS}
    layout["total_bytes"] = align_up(c.at)
    return layout


# The design moves data in 4 KiB messages (one 64x64 int8 block, 32 rows of a 64-column bf16 block, 16 rows of
# a 64-column f32 block); rows are padded to a multiple of 4 row blocks of 64 (one per tile of a column).
MESSAGE_BYTES = 4096
ROW_BLOCK = 64
ROW_PADDING = 4 * ROW_BLOCK
# Row reads fetch whole messages, so a buffer ends with slack for the last row's overread.
ACTIVATION_SLACK_BYTES = 2 * MESSAGE_BYTES
LAYER_SLACK_BYTES = 2 * MESSAGE_BYTES
SCRATCH_SLACK_BYTES = 3 * MESSAGE_BYTES
INT8_BYTES = 1


def padded_rows(n_ctx):
    return align_up(n_ctx, ROW_PADDING)


def a8_row_stride(d_ff):
    """Bytes per row of the int8 GEMM input: up to d_ff int8 values, the row's float32 scale in the last 4 bytes."""
    return align_up(d_ff + F32_BYTES, MESSAGE_BYTES)


SCRATCH_SECTIONS = (
    "a8", "q", "k", "v", "q8", "k8", "q_scales", "k_scales", "v8t", "v_scales", "attn", "hidden",
)


def scratch_layout(n_ctx, d, n_head, d_ff):
    """Offsets of the scratch buffer (kernel argument 6); rows padded to padded_rows(n_ctx):
      a8        int8 [rows][a8_row_stride]  the quantised GEMM input, each row's scale in its last 4 bytes
      q, k, v   bf16 [rows][d]              the projections
      q8, k8    int8 [head][row block][64 x head_dim]   per-head quantised Q and K, block by block
      q_scales, k_scales  [head][row block] one message each: 64 float32 per-token scales, then padding
      v8t       int8 [head][token block][head_dim x 64]  V transposed and quantised per channel
      v_scales  [head][4] one message each: head_dim float32 per-channel scales (one copy per tile row)
      attn      bf16 [rows][d]              the attention output (input of the out projection)
      hidden    bf16 [rows][d_ff]           the MLP hidden layer after GELU
    then SCRATCH_SLACK_BYTES for the last row's whole-message reads.
    """
    n_pad = padded_rows(n_ctx)
    blocks = n_pad // ROW_BLOCK
    c = _Cursor(0)
    sizes = {
        "a8": n_pad * a8_row_stride(d_ff),
        "q": BF16_BYTES * n_pad * d,
        "k": BF16_BYTES * n_pad * d,
        "v": BF16_BYTES * n_pad * d,
        "q8": INT8_BYTES * n_pad * d,
        "k8": INT8_BYTES * n_pad * d,
        "q_scales": n_head * blocks * MESSAGE_BYTES,
        "k_scales": n_head * blocks * MESSAGE_BYTES,
        "v8t": INT8_BYTES * n_pad * d,
        "v_scales": n_head * 4 * MESSAGE_BYTES,
        "attn": BF16_BYTES * n_pad * d,
        "hidden": BF16_BYTES * n_pad * d_ff,
    }
    layout = {name: c.take(sizes[name]) for name in SCRATCH_SECTIONS}
    layout["total_bytes"] = align_up(c.at + SCRATCH_SLACK_BYTES)
    return layout


def activation_bytes(n_ctx, d):
    """x_in / x_out buffers: float32 [padded rows][d] plus slack (the host copies only n_ctx rows)."""
    return align_up(F32_BYTES * padded_rows(n_ctx) * d + ACTIVATION_SLACK_BYTES)


def layer_buffer_bytes(layer_total_bytes):
    return align_up(layer_total_bytes + LAYER_SLACK_BYTES)


def design_name(d_model, n_head, n_ctx):
    return f"encoder_layer_d{d_model}_h{n_head}_ctx{n_ctx}"


def describe_all():
    """Every official shape's layouts, for the test that compares them with the C++."""
    out = {}
    for name, (d, n_head, _layers) in OFFICIAL_SHAPES.items():
        out[name] = {
            "d_model": d,
            "n_head": n_head,
            "n_ctx": N_CTX,
            "design": design_name(d, n_head, N_CTX),
            "layer": encoder_layer_layout(d, 4 * d),
            "scratch": scratch_layout(N_CTX, d, n_head, 4 * d),
            "activation_bytes": activation_bytes(N_CTX, d),
            "layer_buffer_bytes": layer_buffer_bytes(encoder_layer_layout(d, 4 * d)["total_bytes"]),
        }
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--json"]:
        json.dump(describe_all(), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stderr.write("usage: layout.py --json\n")
        sys.exit(2)
