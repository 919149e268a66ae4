// The contract between the host code and the IRON layer design (kernels/iron/encoder_layer_design.py):
// which kernel argument carries which buffer, how big each one is, and where the built design lives.
// One launch runs one whole encoder layer: x_out = layer(x_in) with the weights of that layer.
#pragma once

#include <cstdint>
#include <string>

namespace npuscribe {

// Kernel "MLIR_AIE" arguments (aiecc.py's NPU kernel signature): 0 opcode, 1 instruction bo, 2 its
// length in 32-bit words, 3..7 data bos. Each bo is allocated in kernel.group_id(<its argument index>).
inline constexpr std::uint64_t kXrtOpcodeTransaction = 3;  // "run the instruction stream"
inline constexpr int kXrtArgOpcode = 0;
inline constexpr int kXrtArgInstructions = 1;
inline constexpr int kXrtArgInstructionWords = 2;
inline constexpr int kXrtArgLayerImage = 3;     // packed layer (kernels/encoder_layer.h), read only
inline constexpr int kXrtArgActivationIn = 4;   // float32 [n_ctx][d_model]
inline constexpr int kXrtArgActivationOut = 5;  // float32 [n_ctx][d_model]
inline constexpr int kXrtArgScratch = 6;        // device-written intermediates that do not fit the memtiles
inline constexpr int kXrtArgUnused = 7;         // not read by the design: gets a small dummy bo (never null)
inline constexpr int kXrtFirstDataArg = 3;
inline constexpr int kXrtLastDataArg = 7;
inline constexpr std::size_t kXrtDummyBufferBytes = 4096;

inline constexpr const char* kXrtKernelName = "MLIR_AIE";
inline constexpr const char* kXrtDesignXclbin = "final.xclbin";
inline constexpr const char* kXrtDesignInstructions = "insts.bin";

// The design moves data in 4 KiB messages and pads the rows to a multiple of 256 (4 tile rows x 64);
// kernels/iron/layout.py computes the same numbers and tests/unit/test_xrt_iron.cpp compares them.
inline constexpr std::uint64_t kXrtMessageBytes = 4096;
inline constexpr std::uint64_t kXrtRowPadding = 256;
inline constexpr std::uint64_t kXrtRowBlock = 64;

constexpr std::uint64_t xrt_align(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}
constexpr std::uint64_t xrt_padded_rows(std::uint64_t n_ctx) {
  return xrt_align(n_ctx, kXrtRowPadding);
}
// Bytes per row of the int8 GEMM input: up to d_ff values, the row's float32 scale in the last 4 bytes.
constexpr std::uint64_t xrt_a8_row_stride(std::uint64_t d_ff) {
  return xrt_align(d_ff + 4, kXrtMessageBytes);
}

// Scratch sections (kernel argument 6), each on a 64-byte boundary, in this order; rows padded to
// xrt_padded_rows(n_ctx). They hold what the layer program (kernels/encoder_layer_program.cc) keeps between
// its phases, in the block order the tiles read and write them:
//   a8        int8 [rows][xrt_a8_row_stride]: the quantised GEMM input, each row's scale in its last 4 bytes
//   q, k, v   bf16 [rows][d]: the projections
//   q8, k8    int8 [head][row block][64 x head_dim]: per-head quantised Q and K
//   q_scales, k_scales  [head][row block] one message each: 64 float32 per-token scales, then padding
//   v8t       int8 [head][token block][head_dim x 64]: V transposed, quantised per channel
//   v_scales  [head][4 tile rows] one message each: head_dim float32 per-channel scales
//   attn      bf16 [rows][d]: the attention output; hidden bf16 [rows][d_ff]: the MLP hidden layer
// then 3 messages of slack for the whole-message reads of the last row. The residual stream itself lives in
// x_out: x_out = x_in + attention, then += MLP.
struct XrtScratchLayout {
  std::uint64_t a8 = 0, q = 0, k = 0, v = 0, q8 = 0, k8 = 0, q_scales = 0, k_scales = 0, v8t = 0,
                v_scales = 0, attn = 0, hidden = 0;
  std::uint64_t total_bytes = 0;
};

constexpr XrtScratchLayout xrt_scratch_layout(std::uint64_t n_ctx, std::uint64_t d_model,
                                              std::uint64_t n_head, std::uint64_t d_ff) {
  XrtScratchLayout s;
  std::uint64_t at = 0;
  auto take = [&at](std::uint64_t bytes) {
    const std::uint64_t offset = xrt_align(at, 64);
    at = offset + bytes;
    return offset;
  };
  constexpr std::uint64_t bf16_bytes = 2;
  const std::uint64_t rows = xrt_padded_rows(n_ctx);
  const std::uint64_t blocks = rows / kXrtRowBlock;
  s.a8 = take(rows * xrt_a8_row_stride(d_ff));
  s.q = take(bf16_bytes * rows * d_model);
  s.k = take(bf16_bytes * rows * d_model);
  s.v = take(bf16_bytes * rows * d_model);
  s.q8 = take(rows * d_model);
  s.k8 = take(rows * d_model);
  s.q_scales = take(n_head * blocks * kXrtMessageBytes);
  s.k_scales = take(n_head * blocks * kXrtMessageBytes);
  s.v8t = take(rows * d_model);
  s.v_scales = take(n_head * 4 * kXrtMessageBytes);
  s.attn = take(bf16_bytes * rows * d_model);
  s.hidden = take(bf16_bytes * rows * d_ff);
  s.total_bytes = xrt_align(at + 3 * kXrtMessageBytes, 64);
  return s;
}

// x_in / x_out: float32 [padded rows][d_model] plus 2 messages of slack; the host copies n_ctx rows.
constexpr std::uint64_t xrt_activation_bytes(std::uint64_t n_ctx, std::uint64_t d_model) {
  return xrt_align(4 * xrt_padded_rows(n_ctx) * d_model + 2 * kXrtMessageBytes, 64);
}
// A layer image's buffer: the image plus 2 messages of slack (scales and LayerNorm vectors are read whole).
constexpr std::uint64_t xrt_layer_buffer_bytes(std::uint64_t layer_image_bytes) {
  return xrt_align(layer_image_bytes + 2 * kXrtMessageBytes, 64);
}

// Multiply-adds x 2 of one encoder layer: q, k, v, out projections, Q.K^T and P.V over all heads, the MLP.
constexpr std::uint64_t encoder_layer_operations(std::uint64_t n_ctx, std::uint64_t d_model,
                                                 std::uint64_t d_ff) {
  return 2 * (4 * n_ctx * d_model * d_model + 2 * n_ctx * n_ctx * d_model + 2 * n_ctx * d_model * d_ff);
}

// The directory name of one built design under the designs directory: "encoder_layer_d512_h8_ctx1500".
// The layer count is not part of it: every layer of a model runs the same design with its own weights.
inline std::string xrt_design_name(int d_model, int n_head, int n_ctx) {
  return "encoder_layer_d" + std::to_string(d_model) + "_h" + std::to_string(n_head) + "_ctx" +
         std::to_string(n_ctx);
}

}  // namespace npuscribe
