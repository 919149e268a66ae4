#include "engine/encoder.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/cpu_backend.h"

namespace npuscribe {

Encoder::Encoder(std::shared_ptr<const WhisperModel> model, std::unique_ptr<EncoderBackend> primary)
    : model_(std::move(model)),
      cpu_(std::make_unique<CpuEncoderBackend>(model_)),
      primary_(std::move(primary)) {}

Encoder::~Encoder() = default;

void Encoder::set_profile_sink(ProfileSink* sink) {
  profile_sink_ = sink;
  cpu_->set_profile_sink(sink);
  if (primary_) primary_->set_profile_sink(sink);
}

std::string_view Encoder::backend_name() const {
  return primary_ ? primary_->name() : cpu_->name();
}

EncoderBackend& Encoder::backend_for(EncoderStage stage) {
  if (primary_ && primary_->supports(stage)) return *primary_;
  return *cpu_;
}

std::vector<float> encoder_mel_window(const LogMel& mel, int n_mels, int n_frames, int frame_offset) {
  // Past the end of the mel, repeat its padding: the last frame is always in the 30 s of zeros after the
  // audio, so it holds the clamped floor (global max - 8 + 4) / 4. Read it, rather than scan an hour of mel
  // for its minimum on every window.
  const float padding = mel.values.empty() ? -1.5f : mel.row(0)[mel.n_frames - 1];
  std::vector<float> window(static_cast<std::size_t>(n_mels) * n_frames, padding);
  const int available = std::clamp(mel.n_frames - frame_offset, 0, n_frames);
  for (int m = 0; m < std::min(n_mels, mel.n_mels); ++m) {
    std::memcpy(window.data() + static_cast<std::size_t>(m) * n_frames, mel.row(m) + frame_offset,
                sizeof(float) * static_cast<std::size_t>(available));
  }
  return window;
}

Activations Encoder::conv_stem(const LogMel& mel, int frame_offset) {
  const std::vector<float> window =
      encoder_mel_window(mel, model_->hparams().n_mels, 2 * model_->hparams().n_audio_ctx, frame_offset);
  const MelWindow view{window.data(), model_->hparams().n_mels, 2 * model_->hparams().n_audio_ctx,
                       2 * model_->hparams().n_audio_ctx};
  Activations x;
  EncoderBackend& backend = backend_for(EncoderStage::conv_stem);
  try {
    backend.conv_stem(view, x);
  } catch (const DeviceFailure& failure) {
    report_failure("the conv stem", failure);
    cpu_->conv_stem(view, x);
  }
  return x;
}

Activations Encoder::encode(const LogMel& mel, int frame_offset) {
  ScopedKernelTimer timer(profile_sink_, "encoder", std::string(backend_name()),
                          encoder_flops(model_->hparams()));
  Activations x = conv_stem(mel, frame_offset);
  const std::vector<float>& positional = model_->encoder().positional_embedding;
  for (std::size_t i = 0; i < x.values.size(); ++i) x.values[i] += positional[i];
  const int layer_count = model_->hparams().n_audio_layer;
  int completed_layers = 0;
  EncoderBackend& blocks = backend_for(EncoderStage::block);
  try {
    blocks.encoder_blocks(0, layer_count, x, &completed_layers);
  } catch (const DeviceFailure& failure) {
    // x holds the output of the last layer that completed: the CPU carries on from there.
    report_failure(("encoder layer " + std::to_string(completed_layers)).c_str(), failure);
    for (int layer = completed_layers; layer < layer_count; ++layer) cpu_->encoder_block(layer, x);
  }
  EncoderBackend& norm = backend_for(EncoderStage::post_norm);
  try {
    norm.post_norm(x);
  } catch (const DeviceFailure& failure) {
    report_failure("the final LayerNorm", failure);
    cpu_->post_norm(x);
  }
  return x;
}

void Encoder::report_failure(const char* stage, const DeviceFailure& failure) {
  ++device_failures_;
  if (notice_handler_) {
    notice_handler_(std::string(backend_name()) + " failed in " + stage + ": " + failure.what() +
                    " This window was finished on the CPU; nothing is lost.");
  }
}

double encoder_flops(const WhisperHparams& h) {
  const double ctx = h.n_audio_ctx, d = h.n_audio_state;
  const double conv = 2.0 * (2 * ctx) * d * (h.n_mels * 3) + 2.0 * ctx * d * (d * 3);
  const double per_layer = 2.0 * ctx * d * d * 4         // q, k, v, out
                           + 2.0 * ctx * ctx * d * 2     // scores and weighted sum
                           + 2.0 * ctx * d * 4 * d * 2;  // mlp
  return conv + per_layer * h.n_audio_layer;
}

}  // namespace npuscribe
