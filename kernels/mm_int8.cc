#include "mm_int8.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace npuscribe::kernels {

void zero_i32(std::int32_t* c, int count) {
  NPU_TRACE_BEGIN();
  for (int i = 0; i < count; ++i) c[i] = 0;
  NPU_TRACE_END();
}

#if NPU_AIE
// AIE2: aie::mmul<4, 8, 8> int8 x int8 -> acc32. The memtile DMA delivers a in 4x8 sub-blocks and w
// transposed into 8x8 sub-blocks (k x n), both row-major inside and across sub-blocks, c in 4x8 sub-blocks.
// Two rows x two columns of sub-blocks per iteration keep four accumulators live (the public kernels'
// shape); m, k, n are multiples of 8, 8, 16.
static void matmul_i8_i32_aie(const std::int8_t* __restrict a, const std::int8_t* __restrict b,
                              std::int32_t* __restrict c, int m, int k, int n) {
  using MMUL = aie::mmul<4, 8, 8, std::int8_t, std::int8_t>;
  const int mb = m / 4, kb = k / 8, nb = n / 8;
  for (int i = 0; i < mb; i += 2) chess_prepare_for_pipelining {
      for (int j = 0; j < nb; j += 2) {
        std::int32_t* c00 = c + (i * nb + j) * MMUL::size_C;
        std::int32_t* c01 = c00 + MMUL::size_C;
        std::int32_t* c10 = c00 + nb * MMUL::size_C;
        std::int32_t* c11 = c10 + MMUL::size_C;
        MMUL m00(aie::load_v<MMUL::size_C>(c00)), m01(aie::load_v<MMUL::size_C>(c01));
        MMUL m10(aie::load_v<MMUL::size_C>(c10)), m11(aie::load_v<MMUL::size_C>(c11));
        const std::int8_t* a0 = a + i * kb * MMUL::size_A;
        const std::int8_t* a1 = a0 + kb * MMUL::size_A;
        const std::int8_t* b0 = b + j * MMUL::size_B;
        for (int p = 0; p < kb; ++p) {
          const auto va0 = aie::load_v<MMUL::size_A>(a0 + p * MMUL::size_A);
          const auto va1 = aie::load_v<MMUL::size_A>(a1 + p * MMUL::size_A);
          const auto vb0 = aie::load_v<MMUL::size_B>(b0 + p * nb * MMUL::size_B);
          const auto vb1 = aie::load_v<MMUL::size_B>(b0 + p * nb * MMUL::size_B + MMUL::size_B);
          m00.mac(va0, vb0);
          m01.mac(va0, vb1);
          m10.mac(va1, vb0);
          m11.mac(va1, vb1);
        }
        aie::store_v(c00, m00.template to_vector<std::int32_t>());
        aie::store_v(c01, m01.template to_vector<std::int32_t>());
        aie::store_v(c10, m10.template to_vector<std::int32_t>());
        aie::store_v(c11, m11.template to_vector<std::int32_t>());
      }
    }
}
#endif

void matmul_i8_i32(const std::int8_t* a, const std::int8_t* w, std::int32_t* c, int m, int k, int n) {
  NPU_TRACE_BEGIN();
#if NPU_AIE
  matmul_i8_i32_aie(a, w, c, m, k, n);
#else
  for (int i = 0; i < m; ++i) {
    const std::int8_t* a_row = a + static_cast<std::size_t>(i) * k;
    std::int32_t* c_row = c + static_cast<std::size_t>(i) * n;
    for (int j = 0; j < n; ++j) {
      const std::int8_t* w_row = w + static_cast<std::size_t>(j) * k;
      std::int32_t sum = 0;
      for (int p = 0; p < k; ++p) sum += static_cast<std::int32_t>(a_row[p]) * w_row[p];
      c_row[j] += sum;
    }
  }
#endif
  NPU_TRACE_END();
}

#if !NPU_AIE
void gemm_i8_tiled(const std::int8_t* a, int lda, const std::int8_t* w, int ldw, std::int32_t* c, int ldc,
                   int m, int n, int k) {
  const int blocks_m = (m + kGemmBlockM - 1) / kGemmBlockM;
  const int blocks_n = (n + kGemmBlockN - 1) / kGemmBlockN;
  // One output block per task, as one compute tile owns one output block at a time.
#pragma omp parallel
  {
    std::vector<std::int8_t> a_block(kGemmBlockM * kGemmBlockK), w_block(kGemmBlockN * kGemmBlockK);
    std::vector<std::int32_t> c_block(kGemmBlockM * kGemmBlockN);
#pragma omp for schedule(dynamic, 1)
    for (int task = 0; task < blocks_m * blocks_n; ++task) {
      const int i0 = (task / blocks_n) * kGemmBlockM, j0 = (task % blocks_n) * kGemmBlockN;
      const int rows = std::min(kGemmBlockM, m - i0), cols = std::min(kGemmBlockN, n - j0);
      zero_i32(c_block.data(), kGemmBlockM * kGemmBlockN);
      for (int p0 = 0; p0 < k; p0 += kGemmBlockK) {
        const int depth = std::min(kGemmBlockK, k - p0);
        std::fill(a_block.begin(), a_block.end(), std::int8_t{0});
        std::fill(w_block.begin(), w_block.end(), std::int8_t{0});
        for (int i = 0; i < rows; ++i)
          std::copy_n(a + static_cast<std::size_t>(i0 + i) * lda + p0, depth,
                      a_block.data() + i * kGemmBlockK);
        for (int j = 0; j < cols; ++j)
          std::copy_n(w + static_cast<std::size_t>(j0 + j) * ldw + p0, depth,
                      w_block.data() + j * kGemmBlockK);
        matmul_i8_i32(a_block.data(), w_block.data(), c_block.data(), kGemmBlockM, kGemmBlockK, kGemmBlockN);
      }
      for (int i = 0; i < rows; ++i)
        std::copy_n(c_block.data() + i * kGemmBlockN, cols, c + static_cast<std::size_t>(i0 + i) * ldc + j0);
    }
  }
}

void quantize_row_i8(const float* x, int cols, float scale, std::int8_t* q) {
  if (!(scale > 0.0f)) {
    std::fill_n(q, cols, std::int8_t{0});
    return;
  }
  const float inverse = 1.0f / scale;
  for (int c = 0; c < cols; ++c) {
    const float v = std::nearbyint(x[c] * inverse);  // default rounding mode: to nearest, ties to even
    q[c] = static_cast<std::int8_t>(std::clamp(v, -127.0f, 127.0f));
  }
}

namespace {
float abs_max(const float* x, int cols) {
  float m = 0.0f;
  for (int c = 0; c < cols; ++c) m = std::max(m, std::fabs(x[c]));
  return m;
}
}  // namespace

void quantize_rows_i8(const float* x, int rows, int cols, int x_stride, std::int8_t* q, int q_stride,
                      float* scales, ActivationScaling scaling) {
  if (scaling == ActivationScaling::per_tensor) {
    float m = 0.0f;
#pragma omp parallel for reduction(max : m) schedule(static)
    for (int r = 0; r < rows; ++r) m = std::max(m, abs_max(x + static_cast<std::size_t>(r) * x_stride, cols));
    for (int r = 0; r < rows; ++r) scales[r] = m / kInt8Max;
  } else {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r)
      scales[r] = abs_max(x + static_cast<std::size_t>(r) * x_stride, cols) / kInt8Max;
  }
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r)
    quantize_row_i8(x + static_cast<std::size_t>(r) * x_stride, cols, scales[r],
                    q + static_cast<std::size_t>(r) * q_stride);
}

void requantize_rows(const std::int32_t* acc, int rows, int cols, int acc_stride, const float* row_scales,
                     const float* col_scales, const float* bias, float* out, int out_stride,
                     RequantOutput mode) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const std::int32_t* a = acc + static_cast<std::size_t>(r) * acc_stride;
    float* o = out + static_cast<std::size_t>(r) * out_stride;
    const float row_scale = row_scales[r];
    for (int c = 0; c < cols; ++c) {
      float v = static_cast<float>(a[c]) * (row_scale * col_scales[c]);
      if (bias) v = v + bias[c];
      switch (mode) {
        case RequantOutput::store_f32:
          o[c] = v;
          break;
        case RequantOutput::store_bf16:
          o[c] = round_bf16(v);
          break;
        case RequantOutput::accumulate_f32:
          o[c] = o[c] + v;
          break;
      }
    }
  }
}
#endif

}  // namespace npuscribe::kernels

// Entry points the IRON design links against (fixed block shape, as the public kernels do).
extern "C" {
void zero_i32_64x64(std::int32_t* c) {
  npuscribe::kernels::zero_i32(c, 64 * 64);
}
void matmul_i8_i32_64x64x64(const std::int8_t* a, const std::int8_t* w, std::int32_t* c) {
  npuscribe::kernels::matmul_i8_i32(a, w, c, 64, 64, 64);
}
}
