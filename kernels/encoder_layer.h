// The packed parameters of one Whisper encoder layer as the NPU layer design reads them
// (NpuLayerImage::bytes). Shared by the backend that writes it (core/backend/npu/npu_backend.cpp), the
// emulator that runs it (core/backend/npu/sim/) and the IRON design / XRT buffers that stream it
// (kernels/iron/, core/backend/npu/xrt/). Plain C++ (no standard library beyond <cstdint>) so the same
// header builds with Peano.
//
// Layout, little-endian, every section starts on a 64-byte boundary (DMA buffer-descriptor friendly and
// one cache line on the host):
//   header    EncoderLayerHeader (64 bytes)
//   int8 weights, row-major [out][in] (rows are output channels; the memtile DMA re-tiles them into the
//   4x8 / 8x8 blocks aie::mmul<4,8,8> reads, so the host never needs to know the block size):
//     wq [d][d], wk [d][d], wv [d][d], wo [d][d], w_up [d_ff][d], w_down [d][d_ff]
//   float32 per-output-channel weight scales (w_real = scale[out] * w_int8):
//     sq [d], sk [d], sv [d], so [d], s_up [d_ff], s_down [d]
//   float32 biases (the key projection has no bias in Whisper: bk is zeros, kept for a uniform GEMM):
//     bq [d], bk [d], bv [d], bo [d], b_up [d_ff], b_down [d]
//   float32 LayerNorm affine parameters: ln1_gamma [d], ln1_beta [d], ln2_gamma [d], ln2_beta [d]
// Total size: encoder_layer_layout(d, d_ff).total_bytes.
#pragma once

#include <cstdint>

namespace npuscribe::kernels {

inline constexpr std::uint32_t kEncoderLayerMagic = 0x314C504Eu;  // "NPL1"
inline constexpr std::uint32_t kEncoderLayerVersion = 1;
inline constexpr std::uint32_t kEncoderLayerAlignment = 64;

// How activations are quantised to int8 before each GEMM (scales computed on the device, dynamically).
enum class ActivationScaling : std::uint32_t {
  per_token = 0,   // one scale per row (token): the default, see kernels/README.md
  per_tensor = 1,  // one scale for the whole [n_ctx][k] matrix
};

struct EncoderLayerHeader {
  std::uint32_t magic = kEncoderLayerMagic;
  std::uint32_t version = kEncoderLayerVersion;
  std::uint32_t d_model = 0;
  std::uint32_t d_ff = 0;
  std::uint32_t n_head = 0;
  std::uint32_t activation_scaling = 0;  // ActivationScaling
  std::uint32_t total_bytes = 0;         // of the whole layer image, header included
  std::uint32_t reserved[9] = {};
};
static_assert(sizeof(EncoderLayerHeader) == 64, "the header is one 64-byte line");

// Byte offsets of every section from the start of the layer image.
struct EncoderLayerLayout {
  std::uint64_t wq = 0, wk = 0, wv = 0, wo = 0, w_up = 0, w_down = 0;
  std::uint64_t sq = 0, sk = 0, sv = 0, so = 0, s_up = 0, s_down = 0;
  std::uint64_t bq = 0, bk = 0, bv = 0, bo = 0, b_up = 0, b_down = 0;
  std::uint64_t ln1_gamma = 0, ln1_beta = 0, ln2_gamma = 0, ln2_beta = 0;
  std::uint64_t total_bytes = 0;
};

constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

constexpr EncoderLayerLayout encoder_layer_layout(std::uint64_t d, std::uint64_t d_ff) {
  EncoderLayerLayout l;
  std::uint64_t at = sizeof(EncoderLayerHeader);
  auto take = [&at](std::uint64_t bytes) {
    const std::uint64_t offset = align_up(at, kEncoderLayerAlignment);
    at = offset + bytes;
    return offset;
  };
  l.wq = take(d * d);
  l.wk = take(d * d);
  l.wv = take(d * d);
  l.wo = take(d * d);
  l.w_up = take(d_ff * d);
  l.w_down = take(d * d_ff);
  l.sq = take(4 * d);
  l.sk = take(4 * d);
  l.sv = take(4 * d);
  l.so = take(4 * d);
  l.s_up = take(4 * d_ff);
  l.s_down = take(4 * d);
  l.bq = take(4 * d);
  l.bk = take(4 * d);
  l.bv = take(4 * d);
  l.bo = take(4 * d);
  l.b_up = take(4 * d_ff);
  l.b_down = take(4 * d);
  l.ln1_gamma = take(4 * d);
  l.ln1_beta = take(4 * d);
  l.ln2_gamma = take(4 * d);
  l.ln2_beta = take(4 * d);
  l.total_bytes = align_up(at, kEncoderLayerAlignment);
  return l;
}

// Typed views into one layer image (host side; the image must be 4-byte aligned, std::vector<std::byte>
// storage from operator new is).
struct EncoderLayerView {
  EncoderLayerHeader header;
  const std::int8_t *wq, *wk, *wv, *wo, *w_up, *w_down;
  const float *sq, *sk, *sv, *so, *s_up, *s_down;
  const float *bq, *bk, *bv, *bo, *b_up, *b_down;
  const float *ln1_gamma, *ln1_beta, *ln2_gamma, *ln2_beta;
};

}  // namespace npuscribe::kernels
