// Row- and block-level entry points the IRON layer design (encoder_layer_design.py) calls on the compute
// tiles, composed from the tile kernels in kernels/ so that each step is the very arithmetic the host layer
// program (kernels/encoder_layer_program.cc) runs: LayerNorm + affine + per-token quantisation of one row,
// dynamic quantisation of one bf16 row, requantisation of one 64x64 int32 block, GELU on a row.
// bf16 values travel in float storage, as in the host program. Builds with Peano for AIE2 (build_designs.py)
// and for the host (tests/unit/test_xrt_iron.cpp compiles it to check these entry points).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "encoder_layer.h"
#include "gelu_bf16.h"
#include "layernorm.h"
#include "mm_int8.h"
#include "softmax_bf16.h"

extern "C" {

// normed: a row of n floats of working memory. q: n int8, *scale: max |LN(x)| / 127.
void ln_affine_quantize_row_i8(const float* x, const float* gamma, const float* beta, float* normed,
                               std::int8_t* q, float* scale, int n) {
  using namespace npuscribe::kernels;
  layernorm_row_bf16(x, n, normed);
  affine_row_bf16(normed, n, gamma, beta);
  quantize_rows_i8(normed, 1, n, n, q, n, scale, ActivationScaling::per_token);
}

// One row of bf16 values (float storage) to int8 with its per-token scale.
void quantize_row_i8_per_token(const float* x, std::int8_t* q, float* scale, int n) {
  using namespace npuscribe::kernels;
  quantize_rows_i8(x, 1, n, n, q, n, scale, ActivationScaling::per_token);
}

// out[r][c] (stride out_stride floats) from one 64x64 accumulator block; mode is RequantOutput
// (1 store f32, 2 store bf16, 3 accumulate into the residual stream). bias may be null.
void requantize_block_64x64(const std::int32_t* acc, const float* row_scales, const float* col_scales,
                            const float* bias, float* out, int out_stride, int mode) {
  using namespace npuscribe::kernels;
  requantize_rows(acc, kGemmBlockM, kGemmBlockN, kGemmBlockN, row_scales, col_scales, bias, out, out_stride,
                  static_cast<RequantOutput>(mode));
}

// GELU (tanh form, bf16 intermediates) in place on n bf16 values in float storage.
void gelu_row_f32(float* x, int n) {
  npuscribe::kernels::gelu_rows_bf16(x, static_cast<std::size_t>(n));
}
}

// ---- Message-level entry points of the whole-layer design (encoder_layer_design.py). Messages are 4 KiB;
// bf16 values travel as 16-bit words between tiles and host memory and as floats inside a tile's
// kernels (exact both ways). Each entry point performs one step of the host program with the same kernel
// functions and the same arithmetic order; tests/unit/test_xrt_iron.cpp composes them block by block and
// compares with the host program bit for bit.
namespace npuscribe_glue {

inline float absmax_bf16(const std::uint16_t* x, int n, float m) {
  using namespace npuscribe::kernels;
  for (int i = 0; i < n; ++i) {
    const float v = to_float(bf16{x[i]});
    const float a = v < 0.0f ? -v : v;
    m = a > m ? a : m;  // std::max(m, |v|) as quantize_rows_i8 does (NaN never wins)
  }
  return m;
}

// quantize_row_i8 over n bf16 values, 64 at a time through a float row of working memory.
inline void quantize_bf16(const std::uint16_t* x, int n, float scale, float* tmp64, std::int8_t* q) {
  using namespace npuscribe::kernels;
  for (int c0 = 0; c0 < n; c0 += 64) {
    const int count = n - c0 < 64 ? n - c0 : 64;
    for (int i = 0; i < count; ++i) tmp64[i] = to_float(bf16{x[c0 + i]});
    quantize_row_i8(tmp64, count, scale, q + c0);
  }
}

}  // namespace npuscribe_glue

extern "C" {

// dst[offset .. offset + bytes) = src[0 .. bytes): gathers messages into a row of working memory.
void copy_to_offset(std::int8_t* dst, const std::int8_t* src, int offset, int bytes) {
  for (int i = 0; i < bytes; ++i) dst[offset + i] = src[i];
}
// dst[0 .. bytes) = src[offset .. offset + bytes): scatters a row of working memory into messages.
void copy_from_offset(std::int8_t* dst, const std::int8_t* src, int offset, int bytes) {
  for (int i = 0; i < bytes; ++i) dst[i] = src[offset + i];
}

// LN + affine + per-token quantisation of one fp32 row (work[0 .. 4d), overwritten by the normalised row;
// gamma at params[0 .. 4d), beta at params + beta_offset bytes) into an int8 GEMM input row of `stride` bytes
// at work + out_offset: d int8 values, the row's scale as float32 in its last 4 bytes.
void ln_row_to_a8(std::int8_t* work, const std::int8_t* params, int beta_offset, int d, int out_offset,
                  int stride) {
  float* x = reinterpret_cast<float*>(work);
  const float* gamma = reinterpret_cast<const float*>(params);
  const float* beta = reinterpret_cast<const float*>(params + beta_offset);
  std::int8_t* row = work + out_offset;
  float scale = 0.0f;
  ln_affine_quantize_row_i8(x, gamma, beta, x, row, &scale, d);
  for (int i = d; i < stride - 4; ++i) row[i] = 0;
  std::memcpy(row + stride - 4, &scale, sizeof scale);
}

// Per-token quantisation of one bf16 row x[n] (quantize_rows_i8, per_token) into an int8 GEMM input row as
// above; tmp64: 64 floats of working memory.
void quantize_bf16_row_to_a8(const std::uint16_t* x, float* tmp64, std::int8_t* row, int n, int stride) {
  const float scale = npuscribe_glue::absmax_bf16(x, n, 0.0f) / npuscribe::kernels::kInt8Max;
  npuscribe_glue::quantize_bf16(x, n, scale, tmp64, row);
  for (int i = n; i < stride - 4; ++i) row[i] = 0;
  std::memcpy(row + stride - 4, &scale, sizeof scale);
}

// Rows [first_row, first_row + rows) of a 64x64 accumulator block requantised (requantize_rows) into out
// (rows x 64 floats, stride 64): mode 1 store f32, 2 store bf16 (float storage), 3 accumulate into out.
void requantize_rows_64(const std::int32_t* acc, int first_row, int rows, const float* row_scales,
                        const float* col_scales, const float* bias, float* out, int mode) {
  using namespace npuscribe::kernels;
  requantize_rows(acc + first_row * kGemmBlockN, rows, kGemmBlockN, kGemmBlockN, row_scales + first_row,
                  col_scales, bias, out, kGemmBlockN, static_cast<RequantOutput>(mode));
}

// bf16 values in float storage x[first .. first + count) -> 16-bit words (exact: they are already bf16).
void pack_bf16(const float* x, int first, std::uint16_t* out, int count) {
  for (int i = 0; i < count; ++i) out[i] = npuscribe::kernels::to_bf16(x[first + i]).bits;
}

// Rows [first_row, first_row + rows) of one head's 64-token block of Q or K (bf16 [rows][head_dim], row
// stride head_dim) quantised per token (quantize_rows_i8 on the head's columns): q8 [64][head_dim] and 64
// float32 scales. Tokens at or past valid_rows (padding) get scale 0 and zeros.
void quantize_head_rows(const std::uint16_t* x, int first_row, int rows, int valid_rows, int head_dim,
                        float* tmp64, std::int8_t* q8, float* scales) {
  for (int r = first_row; r < first_row + rows; ++r) {
    const std::uint16_t* row = x + (r - first_row) * head_dim;
    const float scale = r < valid_rows
                            ? npuscribe_glue::absmax_bf16(row, head_dim, 0.0f) / npuscribe::kernels::kInt8Max
                            : 0.0f;
    scales[r] = scale;
    npuscribe_glue::quantize_bf16(row, head_dim, scale, tmp64, q8 + r * head_dim);
  }
}

// V's per-channel scales over all tokens (quantize_rows_i8 on V transposed): absmax[c] updated with the
// first valid_rows rows of a bf16 [rows][head_dim] piece (the rest are padding tokens).
void v_absmax_rows(const std::uint16_t* v, int valid_rows, int head_dim, float* absmax) {
  for (int r = 0; r < valid_rows; ++r)
    for (int c = 0; c < head_dim; ++c)
      absmax[c] = npuscribe_glue::absmax_bf16(v + r * head_dim + c, 1, absmax[c]);
}
void zero_floats(float* x, int count) {
  for (int i = 0; i < count; ++i) x[i] = 0.0f;
}
void scales_from_absmax(float* absmax, int count) {
  for (int i = 0; i < count; ++i) absmax[i] = absmax[i] / npuscribe::kernels::kInt8Max;
}

// `rows` tokens of V (bf16 [rows][head_dim]) transposed and quantised with the channel scales into columns
// column0 .. column0 + rows of the token block vt8 [head_dim][64]; tokens from valid_rows on are padding (0).
void v_transpose_quantize_rows(const std::uint16_t* v, int column0, int rows, int valid_rows, int head_dim,
                               const float* scales, float* tmp64, std::int8_t* vt8) {
  using namespace npuscribe::kernels;
  for (int c = 0; c < head_dim; ++c) {
    for (int r = 0; r < rows; ++r) tmp64[r] = r < valid_rows ? to_float(bf16{v[r * head_dim + c]}) : 0.0f;
    quantize_row_i8(tmp64, rows, scales[c], vt8 + c * 64 + column0);
  }
}

// Attention, one 64-query block against one 64-key block of scores (int32 [64][64]), in two passes over the
// key blocks (attention_softmax_row's two loops): first the row maxima of the dequantised scores, then the
// int8 probabilities and their row sums. Keys at or past valid_keys are padding: no max, probability 0.
//   x_j = bf16(float(s_j) * ((q_scale_i * 1/sqrt(head_dim)) * k_scale_j)),  e_j = exp_bf16(bf16(x_j - max_i))
void attention_init_rows(float* row_max, std::int32_t* row_sums) {
  for (int i = 0; i < 64; ++i) {
    row_max[i] = -INFINITY;
    row_sums[i] = 0;
  }
}
void attention_row_max(const std::int32_t* scores, int valid_keys, const float* q_scales,
                       const float* k_scales, int head_dim, float* row_max) {
  using namespace npuscribe::kernels;
  const float softmax_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int i = 0; i < 64; ++i) {
    const float row_scale = q_scales[i] * softmax_scale;
    float m = row_max[i];
    for (int j = 0; j < valid_keys; ++j) {
      const float x = round_bf16(static_cast<float>(scores[i * 64 + j]) * (row_scale * k_scales[j]));
      m = x > m ? x : m;
    }
    row_max[i] = m;
  }
}
void attention_probabilities(const std::int32_t* scores, int valid_keys, const float* q_scales,
                             const float* k_scales, int head_dim, const float* row_max, std::int8_t* p,
                             std::int32_t* row_sums) {
  using namespace npuscribe::kernels;
  const float softmax_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int i = 0; i < 64; ++i) {
    const float row_scale = q_scales[i] * softmax_scale;
    for (int j = 0; j < 64; ++j) {
      if (j >= valid_keys) {
        p[i * 64 + j] = 0;
        continue;
      }
      const float x = round_bf16(static_cast<float>(scores[i * 64 + j]) * (row_scale * k_scales[j]));
      const float e = exp_bf16(round_bf16(x - row_max[i]));
      const std::int32_t q = static_cast<std::int32_t>(std::nearbyint(e * 127.0f));
      p[i * 64 + j] = static_cast<std::int8_t>(q);
      row_sums[i] += q;
    }
  }
}
// P.V requantised (row scale 1 / row sum, column scales the V channel scales, no bias) to bf16 words: rows
// [first_row, first_row + rows) of the [64][head_dim] accumulator into out [rows][head_dim].
void attention_output_rows(const std::int32_t* pv, const std::int32_t* row_sums, const float* v_scales,
                           int first_row, int rows, int head_dim, float* tmp64, std::uint16_t* out) {
  using namespace npuscribe::kernels;
  for (int r = first_row; r < first_row + rows; ++r) {
    // The max entry quantises to 127, so a real row's sum >= 127; padding rows (sum 0) give zeros.
    const float row_scale = row_sums[r] > 0 ? 1.0f / static_cast<float>(row_sums[r]) : 0.0f;
    requantize_rows(pv + r * head_dim, 1, head_dim, head_dim, &row_scale, v_scales, nullptr, tmp64, head_dim,
                    RequantOutput::store_bf16);
    pack_bf16(tmp64, 0, out + (r - first_row) * head_dim, head_dim);
  }
}
}
