// int8 x int8 GEMM with int32 accumulation, the quantisation kernels around it, and the host driver that
// runs a whole GEMM block by block exactly as the array does (the reference the emulator's fast path must
// equal bit for bit).
#pragma once

#include <cstdint>

#include "encoder_layer.h"
#include "npu_kernel.h"

namespace npuscribe::kernels {

// The block the AIE2 kernel is built for (mlir-aie's default matmul block).
inline constexpr int kGemmBlockM = 64;
inline constexpr int kGemmBlockK = 64;
inline constexpr int kGemmBlockN = 64;

// c[m][n] = 0 (the separate zero kernel of the public design).
void zero_i32(std::int32_t* c, int count);

// One block: c[i][j] += sum_p a[i][p] * w[j][p], a [m][k] row-major, w [n][k] row-major (weights as stored,
// [out][in]), c [m][n] row-major int32. Wraparound-free as long as k * 127 * 127 < 2^31.
void matmul_i8_i32(const std::int8_t* a, const std::int8_t* w, std::int32_t* c, int m, int k, int n);

// A whole GEMM through the block kernel: c[m][n] = a[m][k] * w[n][k]^T. Edge blocks are zero-padded, the
// accumulator block is zeroed, then k blocks are accumulated in order: what each compute tile does.
void gemm_i8_tiled(const std::int8_t* a, int lda, const std::int8_t* w, int ldw, std::int32_t* c, int ldc,
                   int m, int n, int k);

// The GEMM interface the layer program calls: the tile driver above, or an exact fast path (emulator).
class GemmI8 {
 public:
  virtual ~GemmI8() = default;
  virtual void run(const std::int8_t* a, int lda, const std::int8_t* w, int ldw, std::int32_t* c, int ldc,
                   int m, int n, int k) const = 0;
};
class TiledGemmI8 final : public GemmI8 {
 public:
  void run(const std::int8_t* a, int lda, const std::int8_t* w, int ldw, std::int32_t* c, int ldc, int m,
           int n, int k) const override {
    gemm_i8_tiled(a, lda, w, ldw, c, ldc, m, n, k);
  }
};

// Symmetric dynamic quantisation of rows x cols floats (row stride x_stride) to int8 (-127..127, round to
// nearest even): per_token gives scales[r] = max |x[r][:]| / 127, per_tensor one scale for all rows
// (written to every scales[r]). An all-zero row gets scale 0 and zeros.
void quantize_rows_i8(const float* x, int rows, int cols, int x_stride, std::int8_t* q, int q_stride,
                      float* scales, ActivationScaling scaling);
// One row with a given scale (scale 0 gives zeros).
void quantize_row_i8(const float* x, int cols, float scale, std::int8_t* q);

enum class RequantOutput {
  store_f32 = 1,       // out = v
  store_bf16 = 2,      // out = round_bf16(v)
  accumulate_f32 = 3,  // out += v (the residual stream)
};

// v = float(acc[r][c]) * (row_scales[r] * col_scales[c]) + bias[c] (bias may be null), written per mode.
void requantize_rows(const std::int32_t* acc, int rows, int cols, int acc_stride, const float* row_scales,
                     const float* col_scales, const float* bias, float* out, int out_stride,
                     RequantOutput mode);

}  // namespace npuscribe::kernels
