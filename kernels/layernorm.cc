#include "layernorm.h"

#include <cmath>

namespace npuscribe::kernels {

void layernorm_row_bf16(const float* x, int n, float* out) {
  NPU_TRACE_BEGIN();
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += x[i];
  const float mean = sum / static_cast<float>(n);
  float squares = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float centred = x[i] - mean;
    squares += centred * centred;
  }
  const float inverse_std = 1.0f / std::sqrt(squares / static_cast<float>(n) + kLayerNormEpsilon);
  for (int i = 0; i < n; ++i) out[i] = round_bf16((x[i] - mean) * inverse_std);
  NPU_TRACE_END();
}

void affine_row_bf16(float* x, int n, const float* gamma, const float* beta) {
  NPU_TRACE_BEGIN();
  for (int i = 0; i < n; ++i) x[i] = round_bf16(x[i] * gamma[i] + beta[i]);
  NPU_TRACE_END();
}

void layernorm_affine_rows(const float* x, int rows, int cols, int x_stride, const float* gamma,
                           const float* beta, float* out, int out_stride) {
#if !NPU_AIE
#pragma omp parallel for schedule(static)
#endif
  for (int r = 0; r < rows; ++r) {
    float* o = out + static_cast<std::size_t>(r) * out_stride;
    layernorm_row_bf16(x + static_cast<std::size_t>(r) * x_stride, cols, o);
    affine_row_bf16(o, cols, gamma, beta);
  }
}

}  // namespace npuscribe::kernels

// AIE entry points: fp32 rows in, bf16 (16-bit words) out; the affine step on bf16 rows.
extern "C" {
void layernorm_f32_bf16_row(const float* x, std::uint16_t* out, int n) {
  using namespace npuscribe::kernels;
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += x[i];
  const float mean = sum / static_cast<float>(n);
  float squares = 0.0f;
  for (int i = 0; i < n; ++i) squares += (x[i] - mean) * (x[i] - mean);
  const float inverse_std = 1.0f / std::sqrt(squares / static_cast<float>(n) + kLayerNormEpsilon);
  for (int i = 0; i < n; ++i) out[i] = to_bf16((x[i] - mean) * inverse_std).bits;
}
void affine_bf16_row(std::uint16_t* x, const float* gamma, const float* beta, int n) {
  using namespace npuscribe::kernels;
  for (int i = 0; i < n; ++i) x[i] = to_bf16(to_float(bf16{x[i]}) * gamma[i] + beta[i]).bits;
}
}
