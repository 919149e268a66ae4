// CPU numeric kernels shared by the encoder backend and the decoder. Float32 throughout; f16 weights are
// widened exactly and quantised weights (q4_0, q4_1, q5_0, q5_1, q8_0) dequantised exactly, so results differ
// from float32 arithmetic on the stored weights only by rounding order.
#pragma once

#include <cstddef>

#include "model/whisper_model.h"

namespace npuscribe::ops {

inline constexpr float kLayerNormEpsilon = 1e-5f;

// out[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta, for rows x cols. out may equal x.
void layer_norm(const float* x, int rows, int cols, const float* gamma, const float* beta, float* out);

// Whisper's tanh GELU: 0.5 x (1 + tanh(0.79788456 (x + 0.044715 x^3))), in place.
void gelu(float* x, std::size_t count);

// Row-wise softmax of scale * x, in place (max subtracted first).
void softmax_rows(float* x, int rows, int cols, float scale);

// exp(scale * (x - row max)) in place, without the final division; row_sums receives each row's sum.
// Attention divides its [rows x head_dim] output instead of the [rows x keys] scores: a third less work.
void softmax_rows_unnormalized(float* x, int rows, int cols, float scale, float* row_sums);

// exp of count values, in place; relative error below 2 ulp-ish (polynomial, vectorised).
void exp_inplace(float* x, std::size_t count);

// y[m][n] = sum_k x[m][k] * W[n][k] + bias[n] (bias may be null). x has row stride x_stride (>= K), y has
// row stride y_stride (>= N). With accumulate, adds to y instead of overwriting. Large m goes through BLAS
// sgemm on widened weights; small m (decoding) streams the stored weights (f16, f32 or quantised blocks)
// once through a vectorised kernel, so quantised weights are never widened as a whole.
void linear(const float* x, int m, int x_stride, const WeightMatrix& w, const float* bias, float* y,
            int y_stride, bool accumulate = false);
inline void linear(const float* x, int m, const WeightMatrix& w, const float* bias, float* y,
                   bool accumulate = false) {
  linear(x, m, w.cols, w, bias, y, w.rows, accumulate);
}

// Widens rows [row_begin, row_end) of a weight matrix into out (rows x cols float32); quantised rows go
// through dequantize_row (bit-exact with ggml).
void widen_rows(const WeightMatrix& w, int row_begin, int row_end, float* out);

// x[r][c] += bias[c], rows `stride` floats apart (0: cols).
void add_bias_rows(float* x, int rows, int cols, const float* bias, int stride = 0);

// Floating-point operations of linear() for m rows (for GFLOP/s reports).
inline double linear_flops(int m, const WeightMatrix& w) {
  return 2.0 * m * w.rows * w.cols;
}

// Best-of-runs GFLOP/s of a plain BLAS sgemm C[m][n] = A[m][k] B[n][k]^T: the reference that benchmarks
// report our own throughput against, measured in the same run.
double measure_sgemm_gflops(int m, int n, int k, int runs);

}  // namespace npuscribe::ops
