#include "ops/ops.h"

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "model/quant.h"
#include "util/f16.h"
#include "util/parallel.h"
#include "util/thread_pool.h"

namespace npuscribe::ops {
namespace {

// exp(x) for 8 lanes: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n through the exponent
// bits. Inputs are clamped to the float range, so overflow gives +inf-like large values and underflow 0.
inline __m256 exp8(__m256 x) {
  const __m256 max_input = _mm256_set1_ps(88.3762626647949f);
  const __m256 min_input = _mm256_set1_ps(-87.3365447505531f);
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 ln2_hi = _mm256_set1_ps(0.693359375f);
  const __m256 ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
  const __m256 below = _mm256_cmp_ps(x, min_input, _CMP_LT_OQ);
  x = _mm256_min_ps(x, max_input);
  x = _mm256_max_ps(x, min_input);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, ln2_hi, x);
  r = _mm256_fnmadd_ps(n, ln2_lo, r);
  // Taylor/minimax coefficients of e^r on [-ln2/2, ln2/2].
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  // n is in [-126, 128) after clamping; split 2^n in two factors so n = 128 does not overflow the exponent.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256i rest = _mm256_sub_epi32(ni, half);
  const __m256 scale_a =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  const __m256 scale_b =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, _mm256_set1_epi32(127)), 23));
  const __m256 result = _mm256_mul_ps(_mm256_mul_ps(p, scale_a), scale_b);
  return _mm256_andnot_ps(below, result);
}

inline float hsum(__m256 v) {
  __m128 low = _mm256_castps256_ps128(v);
  __m128 high = _mm256_extractf128_ps(v, 1);
  low = _mm_add_ps(low, high);
  low = _mm_hadd_ps(low, low);
  low = _mm_hadd_ps(low, low);
  return _mm_cvtss_f32(low);
}

inline float hmax(__m256 v) {
  __m128 low = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  low = _mm_max_ps(low, _mm_movehl_ps(low, low));
  low = _mm_max_ss(low, _mm_shuffle_ps(low, low, 1));
  return _mm_cvtss_f32(low);
}

inline __m256 load_tail(const float* x, int count) {
  alignas(32) float buffer[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(buffer, x, sizeof(float) * static_cast<std::size_t>(count));
  return _mm256_load_ps(buffer);
}

inline void store_tail(float* x, __m256 v, int count) {
  alignas(32) float buffer[8];
  _mm256_store_ps(buffer, v);
  std::memcpy(x, buffer, sizeof(float) * static_cast<std::size_t>(count));
}

inline __m256 gelu8(__m256 x) {
  // 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)): one exp, no cancellation near zero.
  const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
  const __m256 u =
      _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
  const __m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

}  // namespace

void exp_inplace(float* x, std::size_t count) {
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(x + i, exp8(_mm256_loadu_ps(x + i)));
  if (i < count) {
    const int tail = static_cast<int>(count - i);
    store_tail(x + i, exp8(load_tail(x + i, tail)), tail);
  }
}

void gelu(float* x, std::size_t count) {
  const std::size_t chunk = 4096;
  const auto chunks = static_cast<std::int64_t>((count + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (chunks > 4)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::size_t begin = static_cast<std::size_t>(c) * chunk;
    const std::size_t end = std::min(count, begin + chunk);
    std::size_t i = begin;
    for (; i + 8 <= end; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < end) {
      const int tail = static_cast<int>(end - i);
      store_tail(x + i, gelu8(load_tail(x + i, tail)), tail);
    }
  }
}

// exp(scale * (row - max)) in place; returns the sum.
static float exponentiate_row(float* row, int cols, float scale) {
  __m256 max_v = _mm256_set1_ps(-INFINITY);
  int i = 0;
  for (; i + 8 <= cols; i += 8) max_v = _mm256_max_ps(max_v, _mm256_loadu_ps(row + i));
  float max_value = hmax(max_v);
  for (; i < cols; ++i) max_value = std::max(max_value, row[i]);
  if (!std::isfinite(max_value)) max_value = 0.0f;  // all -inf (fully masked): yields uniform zeros below
  const __m256 scale_v = _mm256_set1_ps(scale);
  const __m256 shift_v = _mm256_set1_ps(-max_value * scale);
  __m256 sum_v = _mm256_setzero_ps();
  for (i = 0; i + 8 <= cols; i += 8) {
    const __m256 e = exp8(_mm256_fmadd_ps(_mm256_loadu_ps(row + i), scale_v, shift_v));
    _mm256_storeu_ps(row + i, e);
    sum_v = _mm256_add_ps(sum_v, e);
  }
  float sum = hsum(sum_v);
  if (i < cols) {
    const int tail = cols - i;
    __m256 e = exp8(_mm256_fmadd_ps(load_tail(row + i, tail), scale_v, shift_v));
    store_tail(row + i, e, tail);
    for (int t = 0; t < tail; ++t) sum += row[i + t];
  }
  return sum;
}

static void softmax_row(float* row, int cols, float scale) {
  const float sum = exponentiate_row(row, cols, scale);
  const float inverse = sum > 0 ? 1.0f / sum : 0.0f;
  const __m256 inverse_v = _mm256_set1_ps(inverse);
  int i = 0;
  for (; i + 8 <= cols; i += 8) _mm256_storeu_ps(row + i, _mm256_mul_ps(_mm256_loadu_ps(row + i), inverse_v));
  for (; i < cols; ++i) row[i] *= inverse;
}

void softmax_rows_unnormalized(float* x, int rows, int cols, float scale, float* row_sums) {
#pragma omp parallel for schedule(static) if (rows > 16 && !omp_in_parallel())
  for (int r = 0; r < rows; ++r)
    row_sums[r] = exponentiate_row(x + static_cast<std::size_t>(r) * cols, cols, scale);
}

void softmax_rows(float* x, int rows, int cols, float scale) {
  // Called both from top level (parallel over rows) and from inside a parallel region (runs serially).
#pragma omp parallel for schedule(static) if (rows > 16 && !omp_in_parallel())
  for (int r = 0; r < rows; ++r) softmax_row(x + static_cast<std::size_t>(r) * cols, cols, scale);
}

void layer_norm(const float* x, int rows, int cols, const float* gamma, const float* beta, float* out) {
#pragma omp parallel for schedule(static) if (rows > 16 && !omp_in_parallel())
  for (int r = 0; r < rows; ++r) {
    const float* in = x + static_cast<std::size_t>(r) * cols;
    float* o = out + static_cast<std::size_t>(r) * cols;
    // Two passes in double: the mean of 1500 x 1280 activations must not lose digits.
    double sum = 0;
    for (int c = 0; c < cols; ++c) sum += in[c];
    const double mean = sum / cols;
    double sum_sq = 0;
    for (int c = 0; c < cols; ++c) {
      const double d = in[c] - mean;
      sum_sq += d * d;
    }
    const float inv_std = static_cast<float>(1.0 / std::sqrt(sum_sq / cols + kLayerNormEpsilon));
    // The float mean is off by up to half an ulp of its magnitude; subtract that residue too so rows with a
    // large offset keep their digits.
    const float mean_f = static_cast<float>(mean);
    const float mean_residue = static_cast<float>(mean - mean_f);
    for (int c = 0; c < cols; ++c) o[c] = ((in[c] - mean_f) - mean_residue) * inv_std * gamma[c] + beta[c];
  }
}

void add_bias_rows(float* x, int rows, int cols, const float* bias, int stride) {
  const std::size_t row_stride = static_cast<std::size_t>(stride > 0 ? stride : cols);
#pragma omp parallel for schedule(static) if (rows > 64 && !omp_in_parallel())
  for (int r = 0; r < rows; ++r) {
    float* row = x + static_cast<std::size_t>(r) * row_stride;
    for (int c = 0; c < cols; ++c) row[c] += bias[c];
  }
}

void widen_rows(const WeightMatrix& w, int row_begin, int row_end, float* out) {
  const std::size_t row_bytes = w.row_bytes();
#pragma omp parallel for schedule(static) if (row_end - row_begin > 64 && !omp_in_parallel())
  for (int r = row_begin; r < row_end; ++r) {
    const std::byte* source = w.data + static_cast<std::size_t>(r) * row_bytes;
    float* destination = out + static_cast<std::size_t>(r - row_begin) * w.cols;
    if (w.type == GgmlType::f16) {
      convert_f16_to_f32(source, destination, static_cast<std::size_t>(w.cols));
    } else if (w.type == GgmlType::f32) {
      std::memcpy(destination, source, row_bytes);
    } else {
      dequantize_row(w.type, source, destination, w.cols);  // bit-exact with ggml's to_float
    }
  }
}

namespace {

// Loads 8 weights of row `row` starting at column k as float32.
template <GgmlType kType>
inline __m256 load_weights8(const std::byte* row, int k) {
  if constexpr (kType == GgmlType::f16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
  }
}

template <GgmlType kType>
inline float load_weight1(const std::byte* row, int k) {
  if constexpr (kType == GgmlType::f16) {
    std::uint16_t half;
    std::memcpy(&half, row + 2 * k, 2);
    return f16_to_f32(half);
  } else {
    float value;
    std::memcpy(&value, row + 4 * k, 4);
    return value;
  }
}

constexpr double kParallelSmallMBytes = 512.0 * 1024;

// Small-m product, register-blocked: 4 weight rows x 2 activation rows per pass gives 8 independent FMA
// chains (one chain per row would stall on FMA latency) and reads every weight row from memory once.
template <GgmlType kType>
void linear_small_m(const float* x, int m, int x_stride, const WeightMatrix& w, const float* bias, float* y,
                    int y_stride, bool accumulate) {
  constexpr int kRowBlock = 4;
  const int n_out = w.rows;
  const int k_in = w.cols;
  const int k_vector = k_in / 8 * 8;
  const std::size_t row_bytes = w.row_bytes();
  const int row_blocks = (n_out + kRowBlock - 1) / kRowBlock;
  // Parallel only for matrices big enough to repay the fork/join (the MLP and the logits, not a 384x384
  // projection): decoding makes dozens of these calls per token.
  const bool parallel = static_cast<double>(row_bytes) * n_out >= kParallelSmallMBytes;
  constexpr int kBlocksPerChunk = 64;
  const int chunks = parallel ? (row_blocks + kBlocksPerChunk - 1) / kBlocksPerChunk : 1;
  parallel_chunks(chunks, [&](int chunk) {
    const int block_begin = parallel ? chunk * kBlocksPerChunk : 0;
    const int block_end = parallel ? std::min(row_blocks, block_begin + kBlocksPerChunk) : row_blocks;
    for (int block = block_begin; block < block_end; ++block) {
      const int n0 = block * kRowBlock;
      const int rows_here = std::min(kRowBlock, n_out - n0);
      const std::byte* weight_rows[kRowBlock];
      for (int r = 0; r < kRowBlock; ++r)
        weight_rows[r] = w.data + static_cast<std::size_t>(n0 + std::min(r, rows_here - 1)) * row_bytes;
      for (int m0 = 0; m0 < m; m0 += 2) {
        const bool pair = m0 + 1 < m;
        const float* x0 = x + static_cast<std::size_t>(m0) * x_stride;
        const float* x1 = pair ? x0 + x_stride : x0;
        __m256 acc0[kRowBlock], acc1[kRowBlock];
        for (int r = 0; r < kRowBlock; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
        for (int k = 0; k < k_vector; k += 8) {
          const __m256 xv0 = _mm256_loadu_ps(x0 + k);
          const __m256 xv1 = _mm256_loadu_ps(x1 + k);
          for (int r = 0; r < kRowBlock; ++r) {
            const __m256 wv = load_weights8<kType>(weight_rows[r], k);
            acc0[r] = _mm256_fmadd_ps(wv, xv0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(wv, xv1, acc1[r]);
          }
        }
        for (int r = 0; r < rows_here; ++r) {
          float sums[2] = {hsum(acc0[r]), hsum(acc1[r])};
          for (int k = k_vector; k < k_in; ++k) {
            const float weight = load_weight1<kType>(weight_rows[r], k);
            sums[0] += weight * x0[k];
            sums[1] += weight * x1[k];
          }
          for (int i = 0; i < (pair ? 2 : 1); ++i) {
            float total = sums[i] + (bias ? bias[n0 + r] : 0.0f);
            float& out = y[static_cast<std::size_t>(m0 + i) * y_stride + n0 + r];
            out = accumulate ? out + total : total;
          }
        }
      }
    }
  });
}

// Small-m product with quantised weights, fused: the weights are never widened in memory. Each 32-element
// block is decoded to integers in registers and its dot product with the activations is scaled by d once,
// sum_j (q_j d + m) x_j = d sum_j q_j x_j + m sum_j x_j, with the block sums of x computed once per call
// (only for q4_1/q5_1). Same blocking as the f16 kernel: 4 weight rows x (1 or 2) activation rows per pass.
// Decoding one token streams each weight once, and a q8_0 (q5_1) row is 53% (38%) of an f16 row; this
// also measured faster than dequantising each 4-row block to a float buffer shared by all activation pairs,
// up to m = 15.
constexpr int kRowBlock = 4;

template <GgmlType kType, bool kPair>
inline __attribute__((always_inline)) void fused_quantized_row_block(
    const std::byte* const* weight_rows, int rows_here, int n0, const float* x0, const float* x1,
    const float* x_block_sums0, const float* x_block_sums1, int block_count, const float* bias, float* y0,
    float* y1, bool accumulate) {
  using namespace quant_simd;
  constexpr int kBytes = block_bytes<kType>;
  __m256 acc0[kRowBlock], acc1[kRowBlock];
  float offset0[kRowBlock] = {}, offset1[kRowBlock] = {};
  for (int r = 0; r < kRowBlock; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  for (int b = 0; b < block_count; ++b) {
    const float* xb0 = x0 + b * kQuantBlockElements;
    const float* xb1 = x1 + b * kQuantBlockElements;
    for (int r = 0; r < kRowBlock; ++r) {
      const DecodedBlock block = decode_block<kType>(weight_rows[r] + static_cast<std::size_t>(b) * kBytes);
      __m256 q = chunk_as_float<0>(block.q);
      __m256 t0 = _mm256_mul_ps(q, _mm256_loadu_ps(xb0));
      __m256 t1 = kPair ? _mm256_mul_ps(q, _mm256_loadu_ps(xb1)) : t0;
      q = chunk_as_float<1>(block.q);
      t0 = _mm256_fmadd_ps(q, _mm256_loadu_ps(xb0 + 8), t0);
      if constexpr (kPair) t1 = _mm256_fmadd_ps(q, _mm256_loadu_ps(xb1 + 8), t1);
      q = chunk_as_float<2>(block.q);
      t0 = _mm256_fmadd_ps(q, _mm256_loadu_ps(xb0 + 16), t0);
      if constexpr (kPair) t1 = _mm256_fmadd_ps(q, _mm256_loadu_ps(xb1 + 16), t1);
      q = chunk_as_float<3>(block.q);
      t0 = _mm256_fmadd_ps(q, _mm256_loadu_ps(xb0 + 24), t0);
      if constexpr (kPair) t1 = _mm256_fmadd_ps(q, _mm256_loadu_ps(xb1 + 24), t1);
      const __m256 d = _mm256_set1_ps(block.d);
      acc0[r] = _mm256_fmadd_ps(t0, d, acc0[r]);
      if constexpr (kPair) acc1[r] = _mm256_fmadd_ps(t1, d, acc1[r]);
      if constexpr (has_offset<kType>) {
        offset0[r] = std::fma(block.m, x_block_sums0[b], offset0[r]);
        if constexpr (kPair) offset1[r] = std::fma(block.m, x_block_sums1[b], offset1[r]);
      }
    }
  }
  for (int r = 0; r < rows_here; ++r) {
    const float b = bias ? bias[n0 + r] : 0.0f;
    const float total0 = hsum(acc0[r]) + offset0[r] + b;
    y0[n0 + r] = accumulate ? y0[n0 + r] + total0 : total0;
    if constexpr (kPair) {
      const float total1 = hsum(acc1[r]) + offset1[r] + b;
      y1[n0 + r] = accumulate ? y1[n0 + r] + total1 : total1;
    }
  }
}

template <GgmlType kType>
void linear_small_m_quantized(const float* x, int m, int x_stride, const WeightMatrix& w, const float* bias,
                              float* y, int y_stride, bool accumulate) {
  const int n_out = w.rows;
  const int k_in = w.cols;
  const int block_count = k_in / kQuantBlockElements;
  const std::size_t row_bytes = w.row_bytes();
  const int row_blocks = (n_out + kRowBlock - 1) / kRowBlock;
  // Block sums of the activations for the "+ m" term of q4_1/q5_1.
  thread_local std::vector<float> x_block_sums;
  if constexpr (quant_simd::has_offset<kType>) {
    x_block_sums.resize(static_cast<std::size_t>(m) * block_count);
    for (int i = 0; i < m; ++i) {
      for (int b = 0; b < block_count; ++b) {
        const float* xb = x + static_cast<std::size_t>(i) * x_stride + b * kQuantBlockElements;
        __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8)),
                                   _mm256_add_ps(_mm256_loadu_ps(xb + 16), _mm256_loadu_ps(xb + 24)));
        x_block_sums[static_cast<std::size_t>(i) * block_count + b] = hsum(sum);
      }
    }
  }
  const float* sums = x_block_sums.data();
  // Parallel for the same matrices as the f16 kernel: the decode makes a quantised row cost at least as much
  // compute as an f16 row, though it is fewer bytes.
  const bool parallel = 2.0 * k_in * n_out >= kParallelSmallMBytes;
  constexpr int kBlocksPerChunk = 64;
  const int chunks = parallel ? (row_blocks + kBlocksPerChunk - 1) / kBlocksPerChunk : 1;
  parallel_chunks(chunks, [&](int chunk) {
    const int block_begin = parallel ? chunk * kBlocksPerChunk : 0;
    const int block_end = parallel ? std::min(row_blocks, block_begin + kBlocksPerChunk) : row_blocks;
    for (int block = block_begin; block < block_end; ++block) {
      const int n0 = block * kRowBlock;
      const int rows_here = std::min(kRowBlock, n_out - n0);
      const std::byte* weight_rows[kRowBlock];
      for (int r = 0; r < kRowBlock; ++r)
        weight_rows[r] = w.data + static_cast<std::size_t>(n0 + std::min(r, rows_here - 1)) * row_bytes;
      // The 4 weight rows (a few hundred bytes each) stay in L1 while the activation pairs reuse them.
      for (int m0 = 0; m0 < m; m0 += 2) {
        const float* x0 = x + static_cast<std::size_t>(m0) * x_stride;
        const float* sums0 = sums + static_cast<std::size_t>(m0) * block_count;
        float* y0 = y + static_cast<std::size_t>(m0) * y_stride;
        if (m0 + 1 < m) {
          fused_quantized_row_block<kType, true>(weight_rows, rows_here, n0, x0, x0 + x_stride, sums0,
                                                 sums0 + block_count, block_count, bias, y0, y0 + y_stride,
                                                 accumulate);
        } else {
          fused_quantized_row_block<kType, false>(weight_rows, rows_here, n0, x0, x0, sums0, sums0,
                                                  block_count, bias, y0, y0, accumulate);
        }
      }
    }
  });
}

constexpr int kSmallMLimit = 16;

}  // namespace

void linear(const float* x, int m, int x_stride, const WeightMatrix& w, const float* bias, float* y,
            int y_stride, bool accumulate) {
  if (m <= 0) return;
  if (m < kSmallMLimit) {
    switch (w.type) {
      case GgmlType::f16:
        linear_small_m<GgmlType::f16>(x, m, x_stride, w, bias, y, y_stride, accumulate);
        break;
      case GgmlType::f32:
        linear_small_m<GgmlType::f32>(x, m, x_stride, w, bias, y, y_stride, accumulate);
        break;
      case GgmlType::q4_0:
        linear_small_m_quantized<GgmlType::q4_0>(x, m, x_stride, w, bias, y, y_stride, accumulate);
        break;
      case GgmlType::q4_1:
        linear_small_m_quantized<GgmlType::q4_1>(x, m, x_stride, w, bias, y, y_stride, accumulate);
        break;
      case GgmlType::q5_0:
        linear_small_m_quantized<GgmlType::q5_0>(x, m, x_stride, w, bias, y, y_stride, accumulate);
        break;
      case GgmlType::q5_1:
        linear_small_m_quantized<GgmlType::q5_1>(x, m, x_stride, w, bias, y, y_stride, accumulate);
        break;
      case GgmlType::q8_0:
        linear_small_m_quantized<GgmlType::q8_0>(x, m, x_stride, w, bias, y, y_stride, accumulate);
        break;
    }
    return;
  }
  // Large m: widen the weights once (cost O(n k), against the product's O(m n k)) and call sgemm.
  thread_local std::vector<float> widened;
  const float* weights;
  if (w.type == GgmlType::f32 && reinterpret_cast<std::uintptr_t>(w.data) % alignof(float) == 0) {
    weights = reinterpret_cast<const float*>(w.data);
  } else {
    widened.resize(static_cast<std::size_t>(w.rows) * w.cols);
    widen_rows(w, 0, w.rows, widened.data());
    weights = widened.data();
  }
  if (bias && !accumulate) {
#pragma omp parallel for schedule(static) if (m > 64 && !omp_in_parallel())
    for (int r = 0; r < m; ++r)
      std::memcpy(y + static_cast<std::size_t>(r) * y_stride, bias, sizeof(float) * w.rows);
  }
  const float beta = (accumulate || bias) ? 1.0f : 0.0f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, w.rows, w.cols, 1.0f, x, x_stride, weights, w.cols,
              beta, y, y_stride);
  if (bias && accumulate) add_bias_rows(y, m, w.rows, bias, y_stride);
}

double measure_sgemm_gflops(int m, int n, int k, int runs) {
  std::vector<float> a(static_cast<std::size_t>(m) * k, 0.5f), b(static_cast<std::size_t>(n) * k, 0.25f),
      c(static_cast<std::size_t>(m) * n);
  double best_s = INFINITY;
  for (int run = 0; run < runs; ++run) {
    const std::int64_t start_ns = now_ns();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f,
                c.data(), n);
    best_s = std::min(best_s, (now_ns() - start_ns) * 1e-9);
  }
  return 2.0 * m * n * k / best_s * 1e-9;
}

}  // namespace npuscribe::ops
