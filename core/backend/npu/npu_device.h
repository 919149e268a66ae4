// The device layer under the NPU backend: one interface, two implementations.
//   xrt/  the real Ryzen AI NPU through XRT >= 2.17 (built only when find_package(XRT 2.17) succeeds);
//   sim/  the emulator: runs the same tile kernels (kernels/) on the host, bit-exact in their integer
//         arithmetic, and models time with the Phoenix cost model.
// The backend (npu_backend.h) quantises the weights once and hands the device a packed image; the device
// runs whole encoder layers, one launch per layer, batched.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "profile/profile.h"

namespace npuscribe {

// The array as the cost model sees it and the UI draws it (tile map: compute rows, memtile row, shim row).
struct NpuTopology {
  std::string generation;  // "XDNA1 Phoenix (npu1)"
  int columns = 4;
  int compute_rows = 4;
  double clock_hz = 0.0;
  int compute_tiles() const { return columns * compute_rows; }
};

// One encoder layer packed for the device in the layout the layer design reads (kernels/encoder_layer.h):
// int8 weights with per-output-channel scales, biases, LayerNorm parameters.
struct NpuLayerImage {
  std::vector<std::byte> bytes;
};

struct NpuEncoderImage {
  int n_ctx = 0;    // audio frames after the conv stem (1500)
  int d_model = 0;  // n_audio_state
  int n_head = 0;
  int d_ff = 0;  // 4 * d_model
  std::vector<NpuLayerImage> layers;
};

class NpuDevice {
 public:
  virtual ~NpuDevice() = default;
  virtual std::string_view backend_name() const = 0;  // "npu" or "npu-sim"
  virtual std::string description() const = 0;       // for the status bar and `npuscribe inspect`
  virtual TimingSource timing_source() const = 0;     // measured (hardware) or modelled (emulator)
  virtual NpuTopology topology() const = 0;

  // Makes the image device-visible once per model (weights are streamed from these buffers each launch).
  virtual void load(const NpuEncoderImage& image) = 0;

  // Runs layers [first_layer, first_layer + layer_count) of the loaded image on x ([n_ctx][d_model]
  // float32, in place): one launch per layer, submitted as one batch. Emits a KernelEvent per kernel and
  // tile into sink (may be null). Throws DeviceFailure (backend/backend.h); x then holds the output of the
  // last completed layer and *completed_layers says how many completed.
  virtual void run_layers(int first_layer, int layer_count, std::span<float> x, int* completed_layers,
                          ProfileSink* sink) = 0;
};

}  // namespace npuscribe
