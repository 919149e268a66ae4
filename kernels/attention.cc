#include "attention.h"

#include <cmath>

#include "softmax_bf16.h"

namespace npuscribe::kernels {

void attention_head(const float* q, const float* k, const float* v, int ld, int n, int head_dim,
                    const GemmI8& gemm, ActivationScaling scaling, AttentionScratch& s, float* out,
                    int ld_out) {
  const std::size_t nn = static_cast<std::size_t>(n) * n, nd = static_cast<std::size_t>(n) * head_dim;
  s.q8.resize(nd);
  s.k8.resize(nd);
  s.v8t.resize(nd);
  s.p8.resize(nn);
  s.q_scales.resize(static_cast<std::size_t>(n));
  s.k_scales.resize(static_cast<std::size_t>(n));
  s.row_scales.resize(static_cast<std::size_t>(n));
  s.v_scales.resize(static_cast<std::size_t>(head_dim));
  s.vt.resize(nd);
  s.scores.resize(nn);
  s.pv.resize(nd);

  quantize_rows_i8(q, n, head_dim, ld, s.q8.data(), head_dim, s.q_scales.data(), scaling);
  quantize_rows_i8(k, n, head_dim, ld, s.k8.data(), head_dim, s.k_scales.data(), scaling);
  // V transposed ([head_dim][n]): its rows are the output channels of P.V, one scale each.
  for (int j = 0; j < n; ++j)
    for (int c = 0; c < head_dim; ++c)
      s.vt[static_cast<std::size_t>(c) * n + j] = v[static_cast<std::size_t>(j) * ld + c];
  quantize_rows_i8(s.vt.data(), head_dim, n, n, s.v8t.data(), n, s.v_scales.data(), scaling);

  gemm.run(s.q8.data(), head_dim, s.k8.data(), head_dim, s.scores.data(), n, n, n, head_dim);
  const float softmax_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int i = 0; i < n; ++i) {
    const std::size_t row = static_cast<std::size_t>(i) * n;
    const std::int32_t sum = attention_softmax_row(s.scores.data() + row, n,
                                                   s.q_scales[static_cast<std::size_t>(i)] * softmax_scale,
                                                   s.k_scales.data(), s.p8.data() + row);
    // The max entry quantises to 127, so sum >= 127.
    s.row_scales[static_cast<std::size_t>(i)] = 1.0f / static_cast<float>(sum);
  }
  gemm.run(s.p8.data(), n, s.v8t.data(), n, s.pv.data(), head_dim, n, head_dim, n);
  requantize_rows(s.pv.data(), n, head_dim, head_dim, s.row_scales.data(), s.v_scales.data(), nullptr, out,
                  ld_out, RequantOutput::store_bf16);
}

}  // namespace npuscribe::kernels
