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

// Self-attention cache of one decoded sequence; copyable so that beams can fork.
struct SelfAttentionCache {
  int n_past = 0;
  std::vector<Activations> key;    // per layer [n_text_ctx][d]
  std::vector<Activations> value;  // per layer [n_text_ctx][d]
};

enum class LogitsRows { all = 1, last = 2 };

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

  void set_profile_sink(ProfileSink* sink) { profile_sink_ = sink; }
  const WhisperModel& model() const { return *model_; }

 private:
  std::shared_ptr<const WhisperModel> model_;
  ProfileSink* profile_sink_ = nullptr;
};

}  // namespace npuscribe
