// LayerNorm as the encoder layer design runs it. Formats: input rows are the fp32 residual stream; mean and
// variance are accumulated in fp32 (two passes); the normalised row is rounded to bf16. The affine step is a
// separate kernel (as in the public AIE2 kernels): bf16 in, gamma/beta fp32, products in fp32, bf16 out.
// Host code carries bf16 values in float storage (every value exactly representable in bf16).
#pragma once

#include <cstdint>

#include "npu_kernel.h"

namespace npuscribe::kernels {

inline constexpr float kLayerNormEpsilon = 1e-5f;

// out[i] = bf16((x[i] - mean) / sqrt(var + eps)); out may equal x.
void layernorm_row_bf16(const float* x, int n, float* out);
// x[i] = bf16(x[i] * gamma[i] + beta[i]), in place on bf16 values.
void affine_row_bf16(float* x, int n, const float* gamma, const float* beta);
// Both over rows (x stride and out stride in floats), rows in parallel on the host.
void layernorm_affine_rows(const float* x, int rows, int cols, int x_stride, const float* gamma,
                           const float* beta, float* out, int out_stride);

}  // namespace npuscribe::kernels
