// Compile-time math for the kernels' lookup tables (the tables are identical on the host and on AIE2, since
// both are computed by the compiler in IEEE double and rounded once to bf16).
#pragma once

#include <bit>
#include <cstdint>

namespace npuscribe::kernels::detail {

// e^x for |x| <= 1 by its Taylor series (30 terms: far below double's epsilon).
constexpr double exp_small(double x) {
  double term = 1.0, sum = 1.0;
  for (int i = 1; i < 30; ++i) {
    term *= x / i;
    sum += term;
  }
  return sum;
}

// e^x for |x| <= 256: e^n * e^(x - n).
constexpr double exp_any(double x) {
  int n = static_cast<int>(x);
  const double base = n >= 0 ? exp_small(1.0) : exp_small(-1.0);
  double power = 1.0;
  for (int i = 0; i < (n >= 0 ? n : -n); ++i) power *= base;
  return power * exp_small(x - n);
}

constexpr double tanh_any(double x) {
  const double e2 = exp_any(2.0 * x);
  return (e2 - 1.0) / (e2 + 1.0);
}

// Rounds to bf16 (nearest, ties to even) and flushes float subnormals to zero, as the AIE does.
constexpr float bf16_round_constexpr(double value) {
  const float f = static_cast<float>(value);
  std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7F800000u) == 0) return 0.0f;
  u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
  return std::bit_cast<float>(u);
}

}  // namespace npuscribe::kernels::detail
