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
  ScopedKernelTimer timer(
      profile_sink_, "decoder.cross_kv", "cpu",
      4.0 * encoder_output.rows * encoder_output.cols * encoder_output.cols * model_->hparams().n_text_layer);
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
    cache.key[layer].resize(0, h.n_text_state);  // rows are added as tokens arrive (see reserve_rows)
    cache.value[layer].resize(0, h.n_text_state);
  }
  return cache;
}

void reserve_cache_rows(SelfAttentionCache& cache, int rows, int max_rows) {
  for (std::size_t layer = 0; layer < cache.key.size(); ++layer) {
    for (Activations* rows_of : {&cache.key[layer], &cache.value[layer]}) {
      if (rows_of->rows >= rows) continue;
      // Grow geometrically (amortised copies) but never past the context: a cache costs only what it holds.
      rows_of->resize(std::min(max_rows, std::max({rows, 2 * rows_of->rows, 32})), rows_of->cols);
    }
  }
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

inline void capture_row(const float* scores, int visible, float scale, float* captured, int row, int n_keys) {
  if (!captured) return;
  float* destination = captured + static_cast<std::size_t>(row) * n_keys;
  for (int j = 0; j < visible; ++j) destination[j] = scores[j] * scale;
}

// Whisper heads are 64 wide (every official size); other widths take the scalar path.
constexpr int kVectorHeadDim = 64;

// One head of attention for a few query rows (decoding). Keys and values are read in place: no packing,
// unlike a BLAS call, which would copy the head's whole K and V for every token.
void attend_head(const float* q, int n_query, const float* keys, const float* values, int stride,
                 int head_dim, int n_keys, int first_query_position, bool causal, float* out,
                 std::vector<float>& scores, float* captured_scores) {
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
      capture_row(scores.data(), visible, scale, captured_scores, i, n_keys);
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
    capture_row(scores.data(), visible, scale, captured_scores, i, n_keys);
    ops::softmax_rows(scores.data(), 1, visible, scale);
    std::fill(result, result + head_dim, 0.0f);
    for (int j = 0; j < visible; ++j) {
      const float* value = values + static_cast<std::size_t>(j) * stride;
      for (int c = 0; c < head_dim; ++c) result[c] += scores[j] * value[c];
    }
  }
}

// Multi-head attention of n_query rows (row stride d) over n_keys keys, heads in parallel when worth it.
// captured_heads[h], when non-null, receives head h's scaled scores [n_query][n_keys].
void multi_head_attention(const float* q, int n_query, int d, const float* keys, const float* values,
                          int n_keys, int heads, int first_query_position, bool causal, float* out,
                          const std::vector<float*>* captured_heads = nullptr) {
  const int head_dim = d / heads;
  const bool parallel = 2.0 * n_query * n_keys * d >= kParallelAttentionMacs;
  auto run_head = [&](int head) {
    thread_local std::vector<float> scores;
    const int offset = head * head_dim;
    float* captured = captured_heads ? (*captured_heads)[static_cast<std::size_t>(head)] : nullptr;
    attend_head(q + offset, n_query, keys + offset, values + offset, d, head_dim, n_keys,
                first_query_position, causal, out + offset, scores, captured);
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
  const DecodeSequence sequence{tokens, &cache};
  std::vector<int> output_rows;
  const int n_tokens = static_cast<int>(tokens.size());
  for (int row = rows == LogitsRows::all ? 0 : n_tokens - 1; row < n_tokens; ++row)
    output_rows.push_back(row);
  decode_batch(std::span<const DecodeSequence>(&sequence, 1), cross, output_rows, logits);
}

void Decoder::decode_batch(std::span<const DecodeSequence> sequences, const CrossAttentionKv& cross,
                           std::span<const int> output_rows, std::vector<float>& logits,
                           CrossAttentionCapture* capture) const {
  const WhisperHparams& h = model_->hparams();
  const DecoderWeights& weights = model_->decoder();
  const int d = h.n_text_state;
  std::vector<int> first_row;  // of each sequence in the concatenated rows
  int n_rows = 0;
  for (const DecodeSequence& sequence : sequences) {
    const int n_tokens = static_cast<int>(sequence.tokens.size());
    if (sequence.cache->n_past + n_tokens > h.n_text_ctx) {
      throw Error("decoder context is full: " + std::to_string(sequence.cache->n_past + n_tokens) +
                  " tokens exceed the model's " + std::to_string(h.n_text_ctx) + "-token limit");
    }
    for (int token : sequence.tokens) {
      if (token < 0 || token >= h.n_vocab)
        throw Error("token id " + std::to_string(token) + " is outside the vocabulary (0.." +
                    std::to_string(h.n_vocab - 1) + ")");
    }
    first_row.push_back(n_rows);
    n_rows += n_tokens;
  }
  for (int row : output_rows) {
    if (row < 0 || row >= n_rows) throw std::out_of_range("decode_batch: output row out of range");
  }
  if (n_rows == 0) {
    logits.clear();
    return;
  }
  // Per row and layer: self q/k/v/out (4 d^2), cross q/out (2 d^2) and MLP (8 d^2) multiply-adds, plus
  // cross attention over the audio (2 * n_audio_ctx * d); self attention over the short prefix is left out.
  const double step_operations = 2.0 * n_rows * h.n_text_layer *
                                 (14.0 * d * d + 2.0 * static_cast<double>(cross.n_audio_ctx) * d);
  ScopedKernelTimer timer(profile_sink_, "decoder.step", "cpu", static_cast<std::uint64_t>(step_operations));

  // x = token_embedding[token] + positional_embedding[position]
  Activations x, normed, query, key, value, attended, hidden;
  x.resize(n_rows, d);
  for (std::size_t s = 0; s < sequences.size(); ++s) {
    const DecodeSequence& sequence = sequences[s];
    for (std::size_t i = 0; i < sequence.tokens.size(); ++i) {
      float* row = x.row(first_row[s] + static_cast<int>(i));
      ops::widen_rows(weights.token_embedding, sequence.tokens[i], sequence.tokens[i] + 1, row);
      const float* position =
          weights.positional_embedding.data() + static_cast<std::size_t>(sequence.cache->n_past + i) * d;
      for (int c = 0; c < d; ++c) row[c] += position[c];
    }
  }
  normed.resize(n_rows, d);
  query.resize(n_rows, d);
  key.resize(n_rows, d);
  value.resize(n_rows, d);
  attended.resize(n_rows, d);

  if (capture) {
    capture->scores.assign(capture->heads.size(),
                           std::vector<float>(static_cast<std::size_t>(n_rows) * cross.n_audio_ctx, 0.0f));
  }
  for (const DecodeSequence& sequence : sequences)
    reserve_cache_rows(*sequence.cache, sequence.cache->n_past + static_cast<int>(sequence.tokens.size()),
                       h.n_text_ctx);
  for (int layer = 0; layer < h.n_text_layer; ++layer) {
    const DecoderBlockWeights& block = weights.blocks[static_cast<std::size_t>(layer)];

    // Causal self-attention; each sequence appends its new K/V rows to its own cache.
    ops::layer_norm(x.values.data(), n_rows, d, block.attn_ln.gamma.data(), block.attn_ln.beta.data(),
                    normed.values.data());
    ops::linear(normed.values.data(), n_rows, block.attn.query, block.attn.query_bias.data(),
                query.values.data());
    ops::linear(normed.values.data(), n_rows, block.attn.key, nullptr, key.values.data());
    ops::linear(normed.values.data(), n_rows, block.attn.value, block.attn.value_bias.data(),
                value.values.data());
    for (std::size_t s = 0; s < sequences.size(); ++s) {
      SelfAttentionCache& cache = *sequences[s].cache;
      const int n_tokens = static_cast<int>(sequences[s].tokens.size());
      Activations& cache_key = cache.key[static_cast<std::size_t>(layer)];
      Activations& cache_value = cache.value[static_cast<std::size_t>(layer)];
      std::memcpy(cache_key.row(cache.n_past), key.row(first_row[s]), sizeof(float) * n_tokens * d);
      std::memcpy(cache_value.row(cache.n_past), value.row(first_row[s]), sizeof(float) * n_tokens * d);
      multi_head_attention(query.row(first_row[s]), n_tokens, d, cache_key.values.data(),
                           cache_value.values.data(), cache.n_past + n_tokens, h.n_text_head, cache.n_past,
                           /*causal=*/true, attended.row(first_row[s]));
    }
    ops::linear(attended.values.data(), n_rows, block.attn.out, block.attn.out_bias.data(), x.values.data(),
                /*accumulate=*/true);

    // Cross-attention over the encoder output: every row of every sequence at once (no mask).
    ops::layer_norm(x.values.data(), n_rows, d, block.cross_attn_ln.gamma.data(),
                    block.cross_attn_ln.beta.data(), normed.values.data());
    ops::linear(normed.values.data(), n_rows, block.cross_attn.query, block.cross_attn.query_bias.data(),
                query.values.data());
    std::vector<float*> captured(static_cast<std::size_t>(h.n_text_head), nullptr);
    bool capturing = false;
    if (capture) {
      for (std::size_t i = 0; i < capture->heads.size(); ++i) {
        const auto [capture_layer, capture_head] = capture->heads[i];
        if (capture_layer == layer && capture_head >= 0 && capture_head < h.n_text_head) {
          captured[static_cast<std::size_t>(capture_head)] = capture->scores[i].data();
          capturing = true;
        }
      }
    }
    const Activations& cross_key = cross.key[static_cast<std::size_t>(layer)];
    const Activations& cross_value = cross.value[static_cast<std::size_t>(layer)];
    multi_head_attention(query.values.data(), n_rows, d, cross_key.values.data(), cross_value.values.data(),
                         cross.n_audio_ctx, h.n_text_head, 0, /*causal=*/false, attended.values.data(),
                         capturing ? &captured : nullptr);
    ops::linear(attended.values.data(), n_rows, block.cross_attn.out, block.cross_attn.out_bias.data(),
                x.values.data(), /*accumulate=*/true);

    // MLP.
    ops::layer_norm(x.values.data(), n_rows, d, block.mlp_ln.gamma.data(), block.mlp_ln.beta.data(),
                    normed.values.data());
    hidden.resize(n_rows, block.mlp.up.rows);
    ops::linear(normed.values.data(), n_rows, block.mlp.up, block.mlp.up_bias.data(), hidden.values.data());
    ops::gelu(hidden.values.data(), hidden.values.size());
    ops::linear(hidden.values.data(), n_rows, block.mlp.down, block.mlp.down_bias.data(), x.values.data(),
                /*accumulate=*/true);
  }
  for (const DecodeSequence& sequence : sequences)
    sequence.cache->n_past += static_cast<int>(sequence.tokens.size());

  // Final LayerNorm and logits through the tied embedding, only for the rows the caller wants.
  const int n_out = static_cast<int>(output_rows.size());
  Activations selected, selected_normed;  // rows may repeat (e.g. [sot] is both the sot row and the last)
  selected.resize(n_out, d);
  selected_normed.resize(n_out, d);
  for (int i = 0; i < n_out; ++i) std::memcpy(selected.row(i), x.row(output_rows[i]), sizeof(float) * d);
  ops::layer_norm(selected.values.data(), n_out, d, weights.ln.gamma.data(), weights.ln.beta.data(),
                  selected_normed.values.data());
  logits.resize(static_cast<std::size_t>(n_out) * h.n_vocab);
  ScopedKernelTimer logits_timer(profile_sink_, "decoder.logits", "cpu",
                                 ops::linear_flops(n_out, weights.token_embedding));
  ops::linear(selected_normed.values.data(), n_out, weights.token_embedding, nullptr, logits.data());
}

}  // namespace npuscribe
