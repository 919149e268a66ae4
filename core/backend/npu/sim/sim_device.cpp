#include "backend/npu/sim/sim_device.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "backend/backend.h"
#include "encoder_layer_program.h"
#include "util/error.h"
#include "util/parallel.h"

namespace npuscribe {

namespace {

// Longest K chunk for which every partial sum of int8 x int8 products (|a * b| <= 127 * 127) stays an
// integer below 2^24, so float32 arithmetic is exact in any summation order: 1040 * 16129 < 2^24.
constexpr int kExactFloatChunk = 1040;
static_assert(static_cast<long>(kExactFloatChunk) * 127 * 127 < (1L << 24));

// The emulator's int8 GEMM: int8 values widened to float, multiplied with sgemm in K-chunks whose sums are
// exact, chunks summed in int32. Identical to the tile kernel's int32 result (test_npu_kernels proves it).
class FastGemmI8 final : public kernels::GemmI8 {
 public:
  void run(const std::int8_t* a, int lda, const std::int8_t* w, int ldw, std::int32_t* c, int ldc, int m,
           int n, int k) const override {
    std::vector<float> af(static_cast<std::size_t>(m) * k), wf(static_cast<std::size_t>(n) * k);
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p)
        af[static_cast<std::size_t>(i) * k + p] = a[static_cast<std::size_t>(i) * lda + p];
    for (int j = 0; j < n; ++j)
      for (int p = 0; p < k; ++p)
        wf[static_cast<std::size_t>(j) * k + p] = w[static_cast<std::size_t>(j) * ldw + p];
    std::vector<float> cf(static_cast<std::size_t>(m) * n);
    for (int p0 = 0; p0 < k; p0 += kExactFloatChunk) {
      const int depth = std::min(kExactFloatChunk, k - p0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, depth, 1.0f, af.data() + p0, k,
                  wf.data() + p0, k, 0.0f, cf.data(), n);
      for (int i = 0; i < m; ++i) {
        std::int32_t* c_row = c + static_cast<std::size_t>(i) * ldc;
        const float* f_row = cf.data() + static_cast<std::size_t>(i) * n;
        if (p0 == 0) {
          for (int j = 0; j < n; ++j) c_row[j] = static_cast<std::int32_t>(f_row[j]);
        } else {
          for (int j = 0; j < n; ++j) c_row[j] += static_cast<std::int32_t>(f_row[j]);
        }
      }
    }
  }
};

class SimNpuDevice final : public NpuDevice {
 public:
  explicit SimNpuDevice(const SimDeviceOptions& options) : options_(options) {}

  std::string_view backend_name() const override { return "npu-sim"; }
  std::string description() const override {
    return "emulated AMD Phoenix NPU (" + std::to_string(options_.parameters.compute_tiles()) +
           " tiles, modelled timing)";
  }
  TimingSource timing_source() const override { return TimingSource::modelled; }
  NpuTopology topology() const override {
    return NpuTopology{"XDNA1 Phoenix (npu1), emulated", options_.parameters.columns,
                       options_.parameters.compute_rows, options_.parameters.clock_hz};
  }

  void load(const NpuEncoderImage& image) override {
    if (image.n_ctx <= 0 || image.d_model <= 0 || image.n_head <= 0 || image.d_ff <= 0)
      throw Error("NPU emulator: the encoder image has no dimensions; rebuild it from the model.");
    std::vector<NpuLayerImage> layers = image.layers;
    std::vector<kernels::EncoderLayerView> views(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const std::string problem =
          kernels::parse_encoder_layer(layers[i].bytes.data(), layers[i].bytes.size(), &views[i]);
      if (!problem.empty())
        throw Error("NPU emulator: layer " + std::to_string(i) + ": " + problem +
                    ". Rebuild the image from the model.");
      if (static_cast<int>(views[i].header.d_model) != image.d_model ||
          static_cast<int>(views[i].header.n_head) != image.n_head ||
          static_cast<int>(views[i].header.d_ff) != image.d_ff)
        throw Error("NPU emulator: layer " + std::to_string(i) + " does not match the image's dimensions.");
    }
    layers_ = std::move(layers);
    views_ = std::move(views);  // views point into layers_' heap buffers, which moved with them
    n_ctx_ = image.n_ctx;
    d_model_ = image.d_model;
    schedule_ =
        model_encoder_layer(options_.parameters, image.n_ctx, image.d_model, image.n_head, image.d_ff);
  }

  void run_layers(int first_layer, int layer_count, std::span<float> x, int* completed_layers,
                  ProfileSink* sink) override {
    int completed = 0;
    if (completed_layers) *completed_layers = 0;
    if (views_.empty()) throw Error("NPU emulator: no encoder image is loaded.");
    if (first_layer < 0 || layer_count < 0 || first_layer + layer_count > static_cast<int>(views_.size()))
      throw Error("NPU emulator: layers " + std::to_string(first_layer) + ".." +
                  std::to_string(first_layer + layer_count) + " are outside the loaded image.");
    if (x.size() != static_cast<std::size_t>(n_ctx_) * d_model_)
      throw Error("NPU emulator: the activations have " + std::to_string(x.size()) + " values, expected " +
                  std::to_string(static_cast<std::size_t>(n_ctx_) * d_model_) + ".");
    const std::int64_t batch_start_ns = now_ns();
    for (int i = 0; i < layer_count; ++i) {
      const int layer = first_layer + i;
      if (options_.tile_kernel_gemm) {
        kernels::run_encoder_layer(views_[static_cast<std::size_t>(layer)], x.data(), n_ctx_, tiled_,
                                   scratch_);
      } else {
        kernels::run_encoder_layer(views_[static_cast<std::size_t>(layer)], x.data(), n_ctx_, fast_,
                                   scratch_);
      }
      if (sink)
        emit_events(*sink, layer, batch_start_ns + static_cast<std::int64_t>(i * schedule_.total_s * 1e9));
      completed = i + 1;
      if (completed_layers) *completed_layers = completed;
    }
  }

 private:
  void emit_events(ProfileSink& sink, int layer, std::int64_t launch_ns) const {
    auto ns = [](double seconds) { return static_cast<std::int64_t>(seconds * 1e9 + 0.5); };
    // "npu.launch" spans the whole launch, as the XRT device measures it; the fixed overhead at its start
    // is its own event.
    KernelEvent launch;
    launch.kernel = "npu.launch";
    launch.backend = "npu-sim";
    launch.start_ns = launch_ns;
    launch.duration_ns = ns(schedule_.total_s);
    launch.layer = layer;
    launch.tile = kHostTile;
    launch.source = TimingSource::modelled;
    sink.record(launch);
    launch.kernel = "npu.launch_overhead";
    launch.duration_ns = ns(schedule_.launch_s);
    sink.record(launch);
    const PhoenixParameters& p = options_.parameters;
    for (const PhoenixStage& stage : schedule_.stages) {
      double busy_total = 0;
      for (double busy : stage.tile_busy_s) busy_total += busy;
      for (int column = 0; column < p.columns; ++column) {
        for (int row = kFirstComputeRow; row < kFirstComputeRow + p.compute_rows; ++row) {
          const int tile = compute_tile_id(column, row);
          if (tile >= 16) continue;
          const double busy = stage.tile_busy_s[static_cast<std::size_t>(tile)];
          if (busy <= 0) continue;
          KernelEvent e;
          e.kernel = stage.kernel;
          e.backend = "npu-sim";
          e.start_ns = launch_ns + ns(stage.start_s);
          e.duration_ns = ns(busy);
          e.operations = static_cast<std::uint64_t>(stage.operations * busy / busy_total);
          e.layer = layer;
          e.tile = tile;
          e.source = TimingSource::modelled;
          sink.record(e);
        }
        if (stage.host_bytes <= 0) continue;
        // Host traffic splits evenly over the columns' shim DMAs and passes their memtiles.
        for (const auto& [name, tile] : {std::pair{"npu.dma.shim", shim_tile_id(column)},
                                         std::pair{"npu.dma.memtile", memtile_id(column)}}) {
          KernelEvent e;
          e.kernel = name;
          e.backend = "npu-sim";
          e.start_ns = launch_ns + ns(stage.start_s);
          e.duration_ns = ns(stage.data_movement_s);
          e.bytes_moved = static_cast<std::uint64_t>(stage.host_bytes / p.columns);
          e.layer = layer;
          e.tile = tile;
          e.source = TimingSource::modelled;
          sink.record(e);
        }
      }
    }
  }

  SimDeviceOptions options_;
  std::vector<NpuLayerImage> layers_;
  std::vector<kernels::EncoderLayerView> views_;
  int n_ctx_ = 0;
  int d_model_ = 0;
  PhoenixLayerSchedule schedule_;
  FastGemmI8 fast_;
  kernels::TiledGemmI8 tiled_;
  kernels::EncoderLayerScratch scratch_;
};

}  // namespace

std::unique_ptr<NpuDevice> make_sim_device() {
  return make_sim_device(SimDeviceOptions{});
}

std::unique_ptr<NpuDevice> make_sim_device(const SimDeviceOptions& options) {
  return std::make_unique<SimNpuDevice>(options);
}

std::unique_ptr<kernels::GemmI8> make_sim_fast_gemm() {
  return std::make_unique<FastGemmI8>();
}

}  // namespace npuscribe
