// The encoder on the NPU: weights quantised once at load (per-output-channel symmetric int8), activations
// quantised dynamically on the device, whole encoder layers per launch through an NpuDevice (the real
// XRT device or the emulator). Which op runs where is written down once, in npu_op_placement().
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "backend/backend.h"
#include "backend/npu/npu_device.h"
#include "encoder_layer.h"

namespace npuscribe {

// Where one step of the encoder runs and in which number format.
struct NpuOpPlacement {
  std::string_view op;      // "conv stem", "LayerNorm + affine", "Q/K/V projections", ...
  std::string_view where;   // "host" or "npu"
  std::string_view kernel;  // tile kernel (kernels/) or host function
  std::string_view format;  // "int8 x int8 -> int32, requantised to bf16", ...
};

// The op placement table (the CLI prints it; kernels/README.md repeats it).
std::span<const NpuOpPlacement> npu_op_placement();

struct NpuBackendOptions {
  kernels::ActivationScaling activation_scaling = kernels::ActivationScaling::per_token;
};

// Packs one encoder layer for the device (kernels/encoder_layer.h): int8 weights with per-output-channel
// symmetric scales (scale = max |w| / 127), float biases and LayerNorm parameters.
NpuLayerImage pack_encoder_layer(const WhisperModel& model, int layer, const NpuBackendOptions& options);
// Per-output-channel symmetric int8 quantisation of a weight matrix (any stored type): q [rows][cols],
// scales [rows].
void quantize_weight_matrix(const WeightMatrix& w, std::int8_t* q, float* scales);

class NpuEncoderBackend final : public EncoderBackend {
 public:
  // Quantises every layer and loads the image into the device. Throws npuscribe::Error if the device
  // refuses the image.
  NpuEncoderBackend(std::shared_ptr<const WhisperModel> model, std::unique_ptr<NpuDevice> device,
                    const NpuBackendOptions& options = {});
  std::string_view name() const override { return device_->backend_name(); }
  // Encoder blocks only: the conv stem and the final LayerNorm stay on the host (see npu_op_placement()).
  bool supports(EncoderStage stage) const override { return stage == EncoderStage::block; }
  void encoder_block(int layer, Activations& x) override;
  void encoder_blocks(int first_layer, int layer_count, Activations& x, int* completed_layers) override;

  const NpuDevice& device() const { return *device_; }

 private:
  void check_input(const Activations& x) const;

  std::shared_ptr<const WhisperModel> model_;
  std::unique_ptr<NpuDevice> device_;
};

std::unique_ptr<EncoderBackend> make_npu_backend(std::shared_ptr<const WhisperModel> model,
                                                 std::unique_ptr<NpuDevice> device);

}  // namespace npuscribe
