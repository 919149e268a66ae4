// Softmax in bf16, max subtracted first, with exp as the public AIE2 kernel computes it: the input in 8.8
// fixed point, two 256-entry bf16 tables (integer part, fraction part) looked up and multiplied. Also the
// attention row kernel built on it: dequantise int32 scores, softmax, quantise the probabilities to int8.
#pragma once

#include <cstdint>

#include "npu_kernel.h"

namespace npuscribe::kernels {

// e^x in bf16 for x <= 0 (the softmax domain after the max subtraction); x below -128 gives 0.
float exp_bf16(float x);

// out = softmax(in) row of n bf16 values (carried in floats): e_i = exp_bf16(bf16(x_i - max)), the sum in
// fp32, out_i = bf16(e_i * (1 / sum)).
void softmax_bf16(const float* in, float* out, int n);

// One query row of attention probabilities:
//   x_j = bf16(float(scores[j]) * (row_scale * col_scales[j]))       (dequantised, scaled scores)
//   e_j = exp_bf16(bf16(x_j - max x))                                (max entry is exactly 1)
//   p_j = round(e_j * 127) as int8                                   (fixed scale 1/127)
// Returns sum_j p_j: the P.V product is divided by it, so the weights that multiply V sum to exactly one.
std::int32_t attention_softmax_row(const std::int32_t* scores, int n, float row_scale,
                                   const float* col_scales, std::int8_t* p);
// The same, one element at a time: the definition the host's vectorised path must match bit for bit.
std::int32_t attention_softmax_row_reference(const std::int32_t* scores, int n, float row_scale,
                                             const float* col_scales, std::int8_t* p);

}  // namespace npuscribe::kernels
