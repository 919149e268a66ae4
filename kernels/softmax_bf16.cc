#include "softmax_bf16.h"

#include <array>
#include <cmath>

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

std::int32_t attention_softmax_row(const std::int32_t* scores, int n, float row_scale,
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
