#include "gelu_bf16.h"

#include <array>
#include <cmath>

#include "vector_math.h"

namespace npuscribe::kernels {

namespace {

constexpr int kSegments = 32;
constexpr double kSegmentWidth = 0.25;
constexpr double kRangeStart = -4.0;

struct Chords {
  std::array<float, kSegments> slope{};
  std::array<float, kSegments> intercept{};
};

constexpr Chords make_chords() {
  Chords c;
  for (int i = 0; i < kSegments; ++i) {
    const double a = kRangeStart + i * kSegmentWidth, b = a + kSegmentWidth;
    const double slope = (detail::tanh_any(b) - detail::tanh_any(a)) / kSegmentWidth;
    c.slope[static_cast<std::size_t>(i)] = detail::bf16_round_constexpr(slope);
    c.intercept[static_cast<std::size_t>(i)] = detail::bf16_round_constexpr(detail::tanh_any(a) - slope * a);
  }
  return c;
}
constexpr Chords kChords = make_chords();

}  // namespace

float tanh_pwl_bf16(float u) {
  if (u >= 4.0f) return 1.0f;
  if (u < -4.0f) return -1.0f;
  const int segment = static_cast<int>((u + 4.0f) * 4.0f);  // 0..31, u >= -4 so truncation is floor
  const std::size_t s = static_cast<std::size_t>(segment < kSegments ? segment : kSegments - 1);
  return round_bf16(kChords.slope[s] * u + kChords.intercept[s]);
}

float gelu_bf16(float x) {
  x = round_bf16(x);
  const float u = round_bf16(0.7978845608f * (x + 0.044715f * x * x * x));
  const float t = tanh_pwl_bf16(u);
  return round_bf16(0.5f * x * (1.0f + t));
}

void gelu_rows_bf16(float* x, std::size_t count) {
  NPU_TRACE_BEGIN();
#if !NPU_AIE
#pragma omp parallel for schedule(static)
#endif
  for (std::size_t i = 0; i < count; ++i) x[i] = gelu_bf16(x[i]);
  NPU_TRACE_END();
}

}  // namespace npuscribe::kernels

extern "C" {
void gelu_bf16_row(std::uint16_t* x, int n) {
  using namespace npuscribe::kernels;
  for (int i = 0; i < n; ++i) x[i] = to_bf16(gelu_bf16(to_float(bf16{x[i]}))).bits;
}
}
