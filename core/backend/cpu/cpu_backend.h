// The float32 reference backend: every encoder stage on the host, GEMMs through OpenBLAS.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace npuscribe {

class CpuEncoderBackend final : public EncoderBackend {
 public:
  explicit CpuEncoderBackend(std::shared_ptr<const WhisperModel> model);
  std::string_view name() const override { return "cpu"; }
  bool supports(EncoderStage) const override { return true; }
  void conv_stem(const MelWindow& mel, Activations& x) override;
  void encoder_block(int layer, Activations& x) override;
  void post_norm(Activations& x) override;

 private:
  void self_attention(const Activations& q, const Activations& k, const Activations& v, Activations& out,
                      int head_count);

  std::shared_ptr<const WhisperModel> model_;
  // Scratch reused across calls (one call at a time per backend object).
  Activations normed_, query_, key_, value_, attended_, hidden_, im2col_;
};

}  // namespace npuscribe
