#include "engine/decoder.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/ops.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace npuscribe {

Decoder::Decoder(std::shared_ptr<const WhisperModel> model) : model_(std::move(model)) {}

CrossAttentionKv Decoder::cross_attention_kv(const Activations& encoder_output) const {
  ScopedKernelTimer timer(profile_sink_, "decoder.cross_kv", "cpu",
                          4.0 * encoder_output.rows * encoder_output.cols * encoder_output.cols *
                              model_->hparams().n_text_layer);
  CrossAttentionKv kv;
  kv.n_audio_ctx = encoder_output.rows;
  for (const DecoderBlockWeights& block : model_->decoder().blocks) {
    Activations key, value;
    key.resize(encoder_output.rows, block.cross_attn.key.rows);
    value.resize(encoder_output.rows, block.cross_attn.value.rows);
    ops::linear(encoder_output.values.data(), encoder_output.rows, block.cross_attn.key, nullptr,
                key.values.data());
    ops::linear(encoder_output.values.data(), encoder_output.rows, block.cross_attn.value,
                block.cross_attn.value_bias.data(), value.values.data());
    kv.key.push_back(std::move(key));
    kv.value.push_back(std::move(value));
  }
  return kv;
}

SelfAttentionCache Decoder::new_cache() const {
  const WhisperHparams& h = model_->hparams();
  SelfAttentionCache cache;
  cache.key.resize(static_cast<std::size_t>(h.n_text_layer));
  cache.value.resize(static_cast<std::size_t>(h.n_text_layer));
  for (int layer = 0; layer < h.n_text_layer; ++layer) {
    cache.key[layer].resize(h.n_text_ctx, h.n_text_state);
    cache.value[layer].resize(h.n_text_ctx, h.n_text_state);
  }
  return cache;
}

namespace {

// Below this many multiply-adds an attention call runs on one thread: a parallel region's fork/join costs
// more than it saves, and far more when another process holds the second core.
constexpr double kParallelAttentionMacs = 2.0e5;

inline float horizontal_sum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

// Whisper heads are 64 wide (every official size); other widths take the scalar path.
constexpr int kVectorHeadDim = 64;

// One head of attention for a few query rows (decoding). Keys and values are read in place: no packing,
// unlike a BLAS call, which would copy the head's whole K and V for every token.
void attend_head(const float* q, int n_query, const float* keys, const float* values, int stride, int head_dim,
                 int n_keys, int first_query_position, bool causal, float* out, std::vector<float>& scores) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  scores.resize(static_cast<std::size_t>(n_keys));
  for (int i = 0; i < n_query; ++i) {
    const float* query = q + static_cast<std::size_t>(i) * stride;
    float* result = out + static_cast<std::size_t>(i) * stride;
    const int visible = causal ? std::min(n_keys, first_query_position + i + 1) : n_keys;
    if (head_dim == kVectorHeadDim) {
      __m256 query_v[8];
      for (int c = 0; c < 8; ++c) query_v[c] = _mm256_loadu_ps(query + 8 * c);
      for (int j = 0; j < visible; ++j) {
        const float* key = keys + static_cast<std::size_t>(j) * stride;
        __m256 sum_a = _mm256_mul_ps(query_v[0], _mm256_loadu_ps(key));
        __m256 sum_b = _mm256_mul_ps(query_v[1], _mm256_loadu_ps(key + 8));
        for (int c = 2; c < 8; c += 2) {
          sum_a = _mm256_fmadd_ps(query_v[c], _mm256_loadu_ps(key + 8 * c), sum_a);
          sum_b = _mm256_fmadd_ps(query_v[c + 1], _mm256_loadu_ps(key + 8 * c + 8), sum_b);
        }
        scores[j] = horizontal_sum(_mm256_add_ps(sum_a, sum_b));
      }
      ops::softmax_rows(scores.data(), 1, visible, scale);
      __m256 acc[8];
      for (int c = 0; c < 8; ++c) acc[c] = _mm256_setzero_ps();
      for (int j = 0; j < visible; ++j) {
        const __m256 weight = _mm256_set1_ps(scores[j]);
        const float* value = values + static_cast<std::size_t>(j) * stride;
        for (int c = 0; c < 8; ++c) acc[c] = _mm256_fmadd_ps(weight, _mm256_loadu_ps(value + 8 * c), acc[c]);
      }
      for (int c = 0; c < 8; ++c) _mm256_storeu_ps(result + 8 * c, acc[c]);
      continue;
    }
    for (int j = 0; j < visible; ++j) {
      const float* key = keys + static_cast<std::size_t>(j) * stride;
      float sum = 0.0f;
      for (int c = 0; c < head_dim; ++c) sum += query[c] * key[c];
      scores[j] = sum;
    }
    ops::softmax_rows(scores.data(), 1, visible, scale);
    std::fill(result, result + head_dim, 0.0f);
    for (int j = 0; j < visible; ++j) {
      const float* value = values + static_cast<std::size_t>(j) * stride;
      for (int c = 0; c < head_dim; ++c) result[c] += scores[j] * value[c];
    }
  }
}

// Multi-head attention of the new tokens over n_keys cached keys, heads in parallel when worth it.
void multi_head_attention(const Activations& q, const float* keys, const float* values, int n_keys, int heads,
                          int first_query_position, bool causal, Activations& out) {
  const int d = q.cols;
  const int head_dim = d / heads;
  out.resize(q.rows, d);
  const bool parallel = 2.0 * q.rows * n_keys * d >= kParallelAttentionMacs;
  auto run_head = [&](int head) {
    thread_local std::vector<float> scores;
    const int offset = head * head_dim;
    attend_head(q.values.data() + offset, q.rows, keys + offset, values + offset, d, head_dim, n_keys,
                first_query_position, causal, out.values.data() + offset, scores);
  };
  if (parallel) {
    parallel_chunks(heads, run_head);
  } else {
    for (int head = 0; head < heads; ++head) run_head(head);
  }
}

}  // namespace

void Decoder::decode(std::span<const int> tokens, const CrossAttentionKv& cross, SelfAttentionCache& cache,
                     std::vector<float>& logits, LogitsRows rows) const {
  const WhisperHparams& h = model_->hparams();
  const DecoderWeights& weights = model_->decoder();
  const int n_tokens = static_cast<int>(tokens.size());
  const int d = h.n_text_state;
  if (n_tokens == 0) {
    logits.clear();
    return;
  }
  if (cache.n_past + n_tokens > h.n_text_ctx) {
    throw Error("decoder context is full: " + std::to_string(cache.n_past + n_tokens) + " tokens exceed the model's " +
                std::to_string(h.n_text_ctx) + "-token limit");
  }
  for (int token : tokens) {
    if (token < 0 || token >= h.n_vocab)
      throw Error("token id " + std::to_string(token) + " is outside the vocabulary (0.." +
                  std::to_string(h.n_vocab - 1) + ")");
  }
  ScopedKernelTimer timer(profile_sink_, "decoder.step", "cpu", 0);

  // x = token_embedding[token] + positional_embedding[position]
  Activations x;
  x.resize(n_tokens, d);
  for (int i = 0; i < n_tokens; ++i) {
    ops::widen_rows(weights.token_embedding, tokens[i], tokens[i] + 1, x.row(i));
    const float* position = weights.positional_embedding.data() + static_cast<std::size_t>(cache.n_past + i) * d;
    for (int c = 0; c < d; ++c) x.row(i)[c] += position[c];
  }

  Activations normed, query, attended, hidden;
  normed.resize(n_tokens, d);
  query.resize(n_tokens, d);
  for (int layer = 0; layer < h.n_text_layer; ++layer) {
    const DecoderBlockWeights& block = weights.blocks[static_cast<std::size_t>(layer)];
    Activations& cache_key = cache.key[static_cast<std::size_t>(layer)];
    Activations& cache_value = cache.value[static_cast<std::size_t>(layer)];

    // Causal self-attention: new K/V rows go straight into the cache.
    ops::layer_norm(x.values.data(), n_tokens, d, block.attn_ln.gamma.data(), block.attn_ln.beta.data(),
                    normed.values.data());
    ops::linear(normed.values.data(), n_tokens, block.attn.query, block.attn.query_bias.data(), query.values.data());
    ops::linear(normed.values.data(), n_tokens, block.attn.key, nullptr, cache_key.row(cache.n_past));
    ops::linear(normed.values.data(), n_tokens, block.attn.value, block.attn.value_bias.data(),
                cache_value.row(cache.n_past));
    multi_head_attention(query, cache_key.values.data(), cache_value.values.data(), cache.n_past + n_tokens,
                         h.n_text_head, cache.n_past, /*causal=*/true, attended);
    ops::linear(attended.values.data(), n_tokens, block.attn.out, block.attn.out_bias.data(), x.values.data(),
                /*accumulate=*/true);

    // Cross-attention over the encoder output.
    ops::layer_norm(x.values.data(), n_tokens, d, block.cross_attn_ln.gamma.data(), block.cross_attn_ln.beta.data(),
                    normed.values.data());
    ops::linear(normed.values.data(), n_tokens, block.cross_attn.query, block.cross_attn.query_bias.data(),
                query.values.data());
    const Activations& cross_key = cross.key[static_cast<std::size_t>(layer)];
    const Activations& cross_value = cross.value[static_cast<std::size_t>(layer)];
    multi_head_attention(query, cross_key.values.data(), cross_value.values.data(), cross.n_audio_ctx,
                         h.n_text_head, 0, /*causal=*/false, attended);
    ops::linear(attended.values.data(), n_tokens, block.cross_attn.out, block.cross_attn.out_bias.data(),
                x.values.data(), /*accumulate=*/true);

    // MLP.
    ops::layer_norm(x.values.data(), n_tokens, d, block.mlp_ln.gamma.data(), block.mlp_ln.beta.data(),
                    normed.values.data());
    hidden.resize(n_tokens, block.mlp.up.rows);
    ops::linear(normed.values.data(), n_tokens, block.mlp.up, block.mlp.up_bias.data(), hidden.values.data());
    ops::gelu(hidden.values.data(), hidden.values.size());
    ops::linear(hidden.values.data(), n_tokens, block.mlp.down, block.mlp.down_bias.data(), x.values.data(),
                /*accumulate=*/true);
  }
  cache.n_past += n_tokens;

  // Final LayerNorm and logits through the tied embedding, for the rows the caller wants.
  const int first_row = rows == LogitsRows::all ? 0 : n_tokens - 1;
  const int n_rows = n_tokens - first_row;
  ops::layer_norm(x.row(first_row), n_rows, d, weights.ln.gamma.data(), weights.ln.beta.data(), normed.values.data());
  logits.resize(static_cast<std::size_t>(n_rows) * h.n_vocab);
  ScopedKernelTimer logits_timer(profile_sink_, "decoder.logits", "cpu",
                                 ops::linear_flops(n_rows, weights.token_embedding));
  ops::linear(normed.values.data(), n_rows, weights.token_embedding, nullptr, logits.data());
}

}  // namespace npuscribe
