// The compute-backend seam of the encoder. An accelerator takes over whole stages (the conv stem, one
// encoder block, the final LayerNorm), never single multiplications: launches are expensive on the NPU.
// The engine asks supports() before dispatching, so a backend only ever sees the stages it runs; the CPU
// backend runs every stage and is the fallback for the rest.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/whisper_model.h"
#include "profile/profile.h"
#include "util/error.h"

namespace npuscribe {

// A device failed while running a stage (timeout, device lost, launch error). The backend leaves its
// input untouched, so the engine reruns the stage on the CPU: the window loses nothing.
class DeviceFailure : public Error {
 public:
  using Error::Error;
};

enum class EncoderStage { conv_stem = 1, block = 2, post_norm = 3 };

// Row-major float32 matrix owned by the engine.
struct Activations {
  int rows = 0;
  int cols = 0;
  std::vector<float> values;
  void resize(int new_rows, int new_cols) {
    rows = new_rows;
    cols = new_cols;
    values.resize(static_cast<std::size_t>(rows) * cols);
  }
  float* row(int r) { return values.data() + static_cast<std::size_t>(r) * cols; }
  const float* row(int r) const { return values.data() + static_cast<std::size_t>(r) * cols; }
};

// A 30-s window of the log-mel: n_mels rows of n_frames values, rows row_stride apart.
struct MelWindow {
  const float* data = nullptr;
  int n_mels = 0;
  int n_frames = 0;  // 2 * n_audio_ctx (3000)
  int row_stride = 0;
};

class EncoderBackend {
 public:
  virtual ~EncoderBackend() = default;
  virtual std::string_view name() const = 0;
  virtual bool supports(EncoderStage stage) const = 0;

  // Neutral defaults: a backend overrides only the stages it claims in supports().
  // mel -> x [n_audio_ctx][d] (time-major, before the positional embedding).
  virtual void conv_stem(const MelWindow& mel, Activations& x);
  // x [n_audio_ctx][d] -> x, in place: x += attn(LN(x)); x += mlp(LN(x)).
  virtual void encoder_block(int layer, Activations& x);
  // Layers [first_layer, first_layer + layer_count) in order. The default calls encoder_block() per layer;
  // a device backend overrides it to batch the launches (an XRT runlist). On DeviceFailure x holds the
  // output of the last layer that completed, and *completed_layers says how many did.
  virtual void encoder_blocks(int first_layer, int layer_count, Activations& x, int* completed_layers);
  // x -> ln_post(x), in place.
  virtual void post_norm(Activations& x);

  void set_profile_sink(ProfileSink* sink) { profile_sink_ = sink; }

 protected:
  ProfileSink* profile_sink_ = nullptr;
};

}  // namespace npuscribe
