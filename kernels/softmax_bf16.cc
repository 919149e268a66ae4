#include "softmax_bf16.h"

#include <array>
#include <cmath>

#if defined(__AVX2__) && !defined(__AIE_ARCH__)
#include <immintrin.h>
#endif

#include "vector_math.h"

namespace npuscribe::kernels {

namespace {

// e^i for the integer part i = -128..0 (index i + 128) and e^(f / 256) for the fraction f = 0..255.
constexpr std::array<float, 129> make_integer_table() {
  std::array<float, 129> t{};
  for (int i = 0; i <= 128; ++i)
    t[static_cast<std::size_t>(i)] = detail::bf16_round_constexpr(detail::exp_any(i - 128));
  return t;
}
constexpr std::array<float, 256> make_fraction_table() {
  std::array<float, 256> t{};
  for (int f = 0; f < 256; ++f)
    t[static_cast<std::size_t>(f)] = detail::bf16_round_constexpr(detail::exp_small(f / 256.0));
  return t;
}
constexpr std::array<float, 129> kExpInteger = make_integer_table();
constexpr std::array<float, 256> kExpFraction = make_fraction_table();
static_assert(kExpInteger[128] == 1.0f && kExpFraction[0] == 1.0f);

}  // namespace

float exp_bf16(float x) {
  // 8.8 fixed point, rounded to nearest; arithmetic shift gives floor for the integer part.
  const float scaled = std::nearbyint(x * 256.0f);
  if (!(scaled > -32768.0f)) return 0.0f;
  const std::int32_t fixed = static_cast<std::int32_t>(scaled > 0.0f ? 0.0f : scaled);
  const std::int32_t integer = fixed >> 8;  // -128..0
  const std::int32_t fraction = fixed & 0xFF;
  return round_bf16(kExpInteger[static_cast<std::size_t>(integer + 128)] *
                    kExpFraction[static_cast<std::size_t>(fraction)]);
}

void softmax_bf16(const float* in, float* out, int n) {
  NPU_TRACE_BEGIN();
  float max_value = -INFINITY;
  for (int i = 0; i < n; ++i) max_value = in[i] > max_value ? in[i] : max_value;
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    out[i] = exp_bf16(round_bf16(in[i] - max_value));
    sum += out[i];
  }
  const float inverse = 1.0f / sum;
  for (int i = 0; i < n; ++i) out[i] = round_bf16(out[i] * inverse);
  NPU_TRACE_END();
}

std::int32_t attention_softmax_row_reference(const std::int32_t* scores, int n, float row_scale,
                                             const float* col_scales, std::int8_t* p) {
  NPU_TRACE_BEGIN();
  // Pass 1: dequantise into p's storage would lose precision; recompute instead (two reads of scores, as the
  // tile does with its row in local memory).
  float max_value = -INFINITY;
  for (int j = 0; j < n; ++j) {
    const float x = round_bf16(static_cast<float>(scores[j]) * (row_scale * col_scales[j]));
    max_value = x > max_value ? x : max_value;
  }
  std::int32_t sum = 0;
  for (int j = 0; j < n; ++j) {
    const float x = round_bf16(static_cast<float>(scores[j]) * (row_scale * col_scales[j]));
    const float e = exp_bf16(round_bf16(x - max_value));
    const std::int32_t q = static_cast<std::int32_t>(std::nearbyint(e * 127.0f));
    p[j] = static_cast<std::int8_t>(q);
    sum += q;
  }
  NPU_TRACE_END();
  return sum;
}

#if !NPU_AIE && defined(__AVX2__)
namespace {

// round_bf16 on 8 lanes, bit for bit: NaN keeps its sign and becomes quiet, the rest rounds to nearest even.
inline __m256 round_bf16_x8(__m256 value) {
  const __m256i u = _mm256_castps_si256(value);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), lsb));
  const __m256i nan_bits = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
  const __m256i is_nan =
      _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF)), _mm256_set1_epi32(0x7F800000));
  const __m256i high = _mm256_blendv_epi8(rounded, nan_bits, is_nan);
  return _mm256_castsi256_ps(_mm256_and_si256(high, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

inline __m256 scaled_scores_x8(const std::int32_t* scores, const float* col_scales, __m256 row_scale) {
  const __m256 s = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scores)));
  return round_bf16_x8(_mm256_mul_ps(s, _mm256_mul_ps(row_scale, _mm256_loadu_ps(col_scales))));
}

// exp_bf16 on 8 lanes, the same table walk.
inline __m256 exp_bf16_x8(__m256 x) {
  const __m256 scaled = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(256.0f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 in_range = _mm256_cmp_ps(scaled, _mm256_set1_ps(-32768.0f), _CMP_GT_OQ);
  const __m256i fixed = _mm256_cvttps_epi32(_mm256_min_ps(scaled, _mm256_setzero_ps()));
  const __m256i integer = _mm256_add_epi32(_mm256_srai_epi32(fixed, 8), _mm256_set1_epi32(128));
  const __m256i fraction = _mm256_and_si256(fixed, _mm256_set1_epi32(0xFF));
  // Out-of-range lanes index entry 0 (always valid) and are zeroed below.
  const __m256i safe_integer = _mm256_and_si256(integer, _mm256_castps_si256(in_range));
  const __m256i safe_fraction = _mm256_and_si256(fraction, _mm256_castps_si256(in_range));
  const __m256 e = _mm256_mul_ps(_mm256_i32gather_ps(kExpInteger.data(), safe_integer, 4),
                                 _mm256_i32gather_ps(kExpFraction.data(), safe_fraction, 4));
  return _mm256_and_ps(round_bf16_x8(e), in_range);
}

}  // namespace
#endif

std::int32_t attention_softmax_row(const std::int32_t* scores, int n, float row_scale,
                                   const float* col_scales, std::int8_t* p) {
#if !NPU_AIE && defined(__AVX2__)
  // The emulator's hot loop (n_ctx^2 per head and layer): 8 lanes at a time, bit-identical to the
  // reference above (test_npu_kernels checks it on random and extreme rows).
  const int vector_end = n - n % 8;
  const __m256 row = _mm256_set1_ps(row_scale);
  __m256 max8 = _mm256_set1_ps(-INFINITY);
  for (int j = 0; j < vector_end; j += 8)
    max8 = _mm256_max_ps(max8, scaled_scores_x8(scores + j, col_scales + j, row));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, max8);
  float max_value = -INFINITY;
  for (float lane : lanes) max_value = lane > max_value ? lane : max_value;
  for (int j = vector_end; j < n; ++j) {
    const float x = round_bf16(static_cast<float>(scores[j]) * (row_scale * col_scales[j]));
    max_value = x > max_value ? x : max_value;
  }
  const __m256 max_broadcast = _mm256_set1_ps(max_value);
  __m256i sum8 = _mm256_setzero_si256();
  for (int j = 0; j < vector_end; j += 8) {
    const __m256 x = scaled_scores_x8(scores + j, col_scales + j, row);
    const __m256 e = exp_bf16_x8(round_bf16_x8(_mm256_sub_ps(x, max_broadcast)));
    const __m256i q = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(e, _mm256_set1_ps(127.0f)),
                                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    sum8 = _mm256_add_epi32(sum8, q);
    // 0..127 fit int8: pack 32 -> 16 -> 8 bits and store the 8 bytes in order.
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p + j), _mm_packs_epi16(q16, q16));
  }
  alignas(32) std::int32_t sums[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(sums), sum8);
  std::int32_t sum = 0;
  for (std::int32_t lane_sum : sums) sum += lane_sum;
  for (int j = vector_end; j < n; ++j) {
    const float x = round_bf16(static_cast<float>(scores[j]) * (row_scale * col_scales[j]));
    const float e = exp_bf16(round_bf16(x - max_value));
    const std::int32_t q = static_cast<std::int32_t>(std::nearbyint(e * 127.0f));
    p[j] = static_cast<std::int8_t>(q);
    sum += q;
  }
  return sum;
#else
  return attention_softmax_row_reference(scores, n, row_scale, col_scales, p);
#endif
}

}  // namespace npuscribe::kernels

// AIE entry point on bf16 buffers (16-bit words).
extern "C" {
void softmax_bf16_row(const std::uint16_t* in, std::uint16_t* out, int n) {
  using namespace npuscribe::kernels;
  NPU_TRACE_BEGIN();
  float max_value = -INFINITY;
  for (int i = 0; i < n; ++i) max_value = std::fmax(max_value, to_float(bf16{in[i]}));
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    const bf16 e = to_bf16(exp_bf16(round_bf16(to_float(bf16{in[i]}) - max_value)));
    out[i] = e.bits;
    sum += to_float(e);
  }
  const float inverse = 1.0f / sum;
  for (int i = 0; i < n; ++i) out[i] = to_bf16(to_float(bf16{out[i]}) * inverse).bits;
  NPU_TRACE_END();
}
}
