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

// Tile ids in KernelEvent::tile for NPU events (the GUI tile map and the trace writer decode them):
//   compute tile (column c, row r = 2..5)  c * 4 + (r - 2)   0..15
//   memory tile of column c (row 1)        100 + c
//   shim tile of column c (row 0)          200 + c
//   host work                              -1 (kHostTile)
inline constexpr int kHostTile = -1;
inline constexpr int kFirstComputeRow = 2;
inline constexpr int kComputeRowsPerColumn = 4;
inline constexpr int kMemtileIdBase = 100;
inline constexpr int kShimIdBase = 200;

constexpr int compute_tile_id(int column, int row) {
  return column * kComputeRowsPerColumn + (row - kFirstComputeRow);
}
constexpr int memtile_id(int column) {
  return kMemtileIdBase + column;
}
constexpr int shim_tile_id(int column) {
  return kShimIdBase + column;
}

enum class NpuTileKind { host = 0, compute = 1, memtile = 2, shim = 3 };

constexpr NpuTileKind tile_kind(int tile_id) {
  if (tile_id >= kShimIdBase) return NpuTileKind::shim;
  if (tile_id >= kMemtileIdBase) return NpuTileKind::memtile;
  if (tile_id >= 0) return NpuTileKind::compute;
  return NpuTileKind::host;
}
// Array column of any tile id (-1 for host work).
constexpr int tile_column(int tile_id) {
  switch (tile_kind(tile_id)) {
    case NpuTileKind::shim:
      return tile_id - kShimIdBase;
    case NpuTileKind::memtile:
      return tile_id - kMemtileIdBase;
    case NpuTileKind::compute:
      return tile_id / kComputeRowsPerColumn;
    case NpuTileKind::host:
      break;
  }
  return -1;
}
// Array row of any tile id: 0 shim, 1 memtile, 2..5 compute, -1 host.
constexpr int tile_row(int tile_id) {
  switch (tile_kind(tile_id)) {
    case NpuTileKind::shim:
      return 0;
    case NpuTileKind::memtile:
      return 1;
    case NpuTileKind::compute:
      return kFirstComputeRow + tile_id % kComputeRowsPerColumn;
    case NpuTileKind::host:
      break;
  }
  return -1;
}
static_assert(compute_tile_id(3, 5) == 15 && tile_column(15) == 3 && tile_row(15) == 5);
static_assert(tile_column(memtile_id(2)) == 2 && tile_row(shim_tile_id(1)) == 0);

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
  virtual std::string description() const = 0;        // for the status bar and `npuscribe inspect`
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
