#include "backend/cpu/cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/ops.h"

namespace npuscribe {

namespace {
// Queries per attention task: a [256 x 1500] score block (1.5 MB) stays in L2 while it is normalised and
// reused; measured best of 64/128/256/512 with both the AVX2 and the AVX-512 OpenBLAS kernels.
constexpr int kAttentionQueryBlock = 256;
}  // namespace

CpuEncoderBackend::CpuEncoderBackend(std::shared_ptr<const WhisperModel> model) : model_(std::move(model)) {}

void CpuEncoderBackend::conv_stem(const MelWindow& mel, Activations& x) {
  const EncoderWeights& weights = model_->encoder();
  const int d = model_->hparams().n_audio_state;
  const int n_frames = mel.n_frames;
  const int n_out = n_frames / 2;
  {
    // conv1 (k=3, stride 1, pad 1) as im2col + GEMM: row t holds mel[c][t-1..t+1] for every channel c.
    ScopedKernelTimer timer(profile_sink_, "encoder.conv1", "cpu",
                            ops::linear_flops(n_frames, weights.conv1));
    const int cols = mel.n_mels * 3;
    im2col_.resize(n_frames, cols);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < n_frames; ++t) {
      float* row = im2col_.row(t);
      for (int c = 0; c < mel.n_mels; ++c) {
        const float* channel = mel.data + static_cast<std::size_t>(c) * mel.row_stride;
        for (int k = 0; k < 3; ++k) {
          const int source = t + k - 1;
          row[c * 3 + k] = (source >= 0 && source < n_frames) ? channel[source] : 0.0f;
        }
      }
    }
    hidden_.resize(n_frames, d);
    ops::linear(im2col_.values.data(), n_frames, weights.conv1, weights.conv1_bias.data(),
                hidden_.values.data());
    ops::gelu(hidden_.values.data(), hidden_.values.size());
  }
  {
    // conv2 (k=3, stride 2, pad 1): row t holds hidden[2t-1..2t+1][c] for every channel c.
    ScopedKernelTimer timer(profile_sink_, "encoder.conv2", "cpu", ops::linear_flops(n_out, weights.conv2));
    const int cols = d * 3;
    im2col_.resize(n_out, cols);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < n_out; ++t) {
      float* row = im2col_.row(t);
      for (int k = 0; k < 3; ++k) {
        const int source = 2 * t + k - 1;
        const float* in = (source >= 0 && source < n_frames) ? hidden_.row(source) : nullptr;
        for (int c = 0; c < d; ++c) row[c * 3 + k] = in ? in[c] : 0.0f;
      }
    }
    x.resize(n_out, d);
    ops::linear(im2col_.values.data(), n_out, weights.conv2, weights.conv2_bias.data(), x.values.data());
    ops::gelu(x.values.data(), x.values.size());
  }
}

void CpuEncoderBackend::self_attention(const Activations& q, const Activations& k, const Activations& v,
                                       Activations& out, int head_count) {
  const int n_ctx = q.rows;
  const int d = q.cols;
  const int head_dim = d / head_count;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int query_blocks = (n_ctx + kAttentionQueryBlock - 1) / kAttentionQueryBlock;
  const int tasks = head_count * query_blocks;
  out.resize(n_ctx, d);
  // One task = one head x one block of queries, with single-threaded BLAS calls inside (OpenBLAS runs
  // serially inside an OpenMP parallel region), so both cores stay busy through the softmax as well.
#pragma omp parallel
  {
    std::vector<float> scores(static_cast<std::size_t>(kAttentionQueryBlock) * n_ctx);
    std::vector<float> row_sums(kAttentionQueryBlock);
#pragma omp for schedule(dynamic, 1)
    for (int task = 0; task < tasks; ++task) {
      const int head = task / query_blocks;
      const int q0 = (task % query_blocks) * kAttentionQueryBlock;
      const int rows = std::min(kAttentionQueryBlock, n_ctx - q0);
      const int offset = head * head_dim;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_ctx, head_dim, 1.0f, q.row(q0) + offset, d,
                  k.values.data() + offset, d, 0.0f, scores.data(), n_ctx);
      ops::softmax_rows_unnormalized(scores.data(), rows, n_ctx, scale, row_sums.data());
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, head_dim, n_ctx, 1.0f, scores.data(),
                  n_ctx, v.values.data() + offset, d, 0.0f, out.row(q0) + offset, d);
      for (int r = 0; r < rows; ++r) {
        float* row = out.row(q0 + r) + offset;
        const float inverse = 1.0f / row_sums[static_cast<std::size_t>(r)];
        for (int c = 0; c < head_dim; ++c) row[c] *= inverse;
      }
    }
  }
}

void CpuEncoderBackend::encoder_block(int layer, Activations& x) {
  const EncoderBlockWeights& block = model_->encoder().blocks.at(static_cast<std::size_t>(layer));
  const int n_ctx = x.rows;
  const int d = x.cols;
  const int heads = model_->hparams().n_audio_head;

  normed_.resize(n_ctx, d);
  // LayerNorm: about 8 operations per element (mean, variance, normalise, affine); reads x, writes normed_.
  const std::uint64_t ln_operations = 8ull * n_ctx * d;
  const std::uint64_t ln_bytes = 2ull * n_ctx * d * sizeof(float);
  {
    ScopedKernelTimer timer(profile_sink_, "encoder.attn_ln", "cpu", ln_operations, ln_bytes, layer);
    ops::layer_norm(x.values.data(), n_ctx, d, block.attn_ln.gamma.data(), block.attn_ln.beta.data(),
                    normed_.values.data());
  }
  {
    ScopedKernelTimer timer(profile_sink_, "encoder.qkv", "cpu",
                            3 * ops::linear_flops(n_ctx, block.attn.query), 0, layer);
    query_.resize(n_ctx, d);
    key_.resize(n_ctx, d);
    value_.resize(n_ctx, d);
    ops::linear(normed_.values.data(), n_ctx, block.attn.query, block.attn.query_bias.data(),
                query_.values.data());
    ops::linear(normed_.values.data(), n_ctx, block.attn.key, nullptr, key_.values.data());
    ops::linear(normed_.values.data(), n_ctx, block.attn.value, block.attn.value_bias.data(),
                value_.values.data());
  }
  {
    ScopedKernelTimer timer(profile_sink_, "encoder.attention", "cpu", 4.0 * n_ctx * n_ctx * d, 0, layer);
    self_attention(query_, key_, value_, attended_, heads);
  }
  {
    ScopedKernelTimer timer(profile_sink_, "encoder.attn_out", "cpu",
                            ops::linear_flops(n_ctx, block.attn.out), 0, layer);
    ops::linear(attended_.values.data(), n_ctx, block.attn.out, block.attn.out_bias.data(), x.values.data(),
                /*accumulate=*/true);
  }
  {
    ScopedKernelTimer timer(profile_sink_, "encoder.mlp_ln", "cpu", ln_operations, ln_bytes, layer);
    ops::layer_norm(x.values.data(), n_ctx, d, block.mlp_ln.gamma.data(), block.mlp_ln.beta.data(),
                    normed_.values.data());
  }
  {
    ScopedKernelTimer timer(profile_sink_, "encoder.mlp", "cpu",
                            ops::linear_flops(n_ctx, block.mlp.up) + ops::linear_flops(n_ctx, block.mlp.down),
                            0, layer);
    hidden_.resize(n_ctx, block.mlp.up.rows);
    ops::linear(normed_.values.data(), n_ctx, block.mlp.up, block.mlp.up_bias.data(), hidden_.values.data());
    ops::gelu(hidden_.values.data(), hidden_.values.size());
    ops::linear(hidden_.values.data(), n_ctx, block.mlp.down, block.mlp.down_bias.data(), x.values.data(),
                /*accumulate=*/true);
  }
}

void CpuEncoderBackend::post_norm(Activations& x) {
  const LayerNormWeights& ln = model_->encoder().ln_post;
  ScopedKernelTimer timer(profile_sink_, "encoder.post_norm", "cpu", 8ull * x.rows * x.cols,
                          2ull * x.rows * x.cols * sizeof(float));
  ops::layer_norm(x.values.data(), x.rows, x.cols, ln.gamma.data(), ln.beta.data(), x.values.data());
}

}  // namespace npuscribe
