// The Whisper text decoder: token + positional embedding, pre-LN blocks of causal self-attention (with a
// KV cache), cross-attention over the encoder output (K/V computed once per 30-s window), MLP, final
// LayerNorm, and logits through the tied token embedding.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"

namespace npuscribe {

// Cross-attention keys and values of every decoder layer for one encoded window.
struct CrossAttentionKv {
  int n_audio_ctx = 0;
  std::vector<Activations> key;    // per layer [n_audio_ctx][d]
  std::vector<Activations> value;  // per layer [n_audio_ctx][d]
};

// Self-attention cache of one decoded sequence; copyable so that beams can fork. Rows grow with the
// sequence, up to n_text_ctx.
struct SelfAttentionCache {
  int n_past = 0;
  std::vector<Activations> key;    // per layer [rows >= n_past][d]
  std::vector<Activations> value;  // per layer [rows >= n_past][d]
};

// Makes room for `rows` positions in every layer of the cache (up to max_rows, the model's context).
void reserve_cache_rows(SelfAttentionCache& cache, int rows, int max_rows);

enum class LogitsRows { all = 1, last = 2 };

// New tokens of one sequence and the cache they extend (beams are sequences decoded together).
struct DecodeSequence {
  std::span<const int> tokens;
  SelfAttentionCache* cache = nullptr;
};

// Scaled pre-softmax cross-attention scores (q.k / sqrt(head_dim)) of chosen heads, for word alignment.
struct CrossAttentionCapture {
  std::vector<std::pair<int, int>> heads;  // (layer, head)
  std::vector<std::vector<float>> scores;  // per head: [n_rows][n_audio_ctx]
};

class Decoder {
 public:
  explicit Decoder(std::shared_ptr<const WhisperModel> model);

  CrossAttentionKv cross_attention_kv(const Activations& encoder_output) const;
  SelfAttentionCache new_cache() const;

  // Decodes tokens at positions cache.n_past ... and appends them to the cache. logits receives
  // [rows][n_vocab]: every token's row, or the last token's only. Throws npuscribe::Error when the
  // sequence would exceed n_text_ctx.
  void decode(std::span<const int> tokens, const CrossAttentionKv& cross, SelfAttentionCache& cache,
              std::vector<float>& logits, LogitsRows rows = LogitsRows::last) const;

  // Decodes several sequences in one pass: every weight is read once for all of them, and they share the
  // cross-attention K/V. output_rows index the concatenation of all sequences' tokens; logits receives
  // [output_rows.size()][n_vocab]. capture (optional) records cross-attention scores of every row.
  void decode_batch(std::span<const DecodeSequence> sequences, const CrossAttentionKv& cross,
                    std::span<const int> output_rows, std::vector<float>& logits,
                    CrossAttentionCapture* capture = nullptr) const;

  void set_profile_sink(ProfileSink* sink) { profile_sink_ = sink; }
  const WhisperModel& model() const { return *model_; }

 private:
  std::shared_ptr<const WhisperModel> model_;
  ProfileSink* profile_sink_ = nullptr;
};

}  // namespace npuscribe
