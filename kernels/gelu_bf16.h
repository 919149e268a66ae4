// GELU in its tanh form with bf16 intermediates, tanh piecewise linear over 32 segments (the public AIE2
// kernels' method):
//   u = bf16(0.7978845608 * (x + 0.044715 x^3)),  t = bf16(tanh_pwl(u)),  y = bf16(0.5 x (1 + t)).
// tanh_pwl: 32 chords of width 0.25 over [-4, 4) with bf16 slopes and intercepts; +-1 outside.
#pragma once

#include <cstddef>

#include "npu_kernel.h"

namespace npuscribe::kernels {

float tanh_pwl_bf16(float u);
float gelu_bf16(float x);
// In place on count values (bf16 values in float storage; inputs are rounded to bf16 first).
void gelu_rows_bf16(float* x, std::size_t count);

}  // namespace npuscribe::kernels
