// The cost model of the XDNA1 "Phoenix" NPU array (mlir-aie device npu1) used by the emulator. Every
// figure lives in PhoenixParameters, each with its source in /work/shared/docs/npu.md ("npu.md") or marked
// as a calibration choice / estimate, so a measurement on hardware can replace it in one place.
//
// What is modelled:
//  - tiling: each int8 GEMM is cut into m x k x n blocks whose double-buffered inputs and int32 accumulator
//    fit a compute tile's 64 KiB (choose_gemm_blocking); output blocks are dealt round-robin to the 16
//    compute tiles (the design's placement), edge blocks are padded (wasted MACs are charged);
//  - per block step: max(MAC time at the kernel efficiency, operand stream time into the tile);
//  - weights and activations streamed from host memory through the shim and memtile DMAs per launch
//    (activations stay in host memory between kernel stages), limited by the host bandwidth and by the shim
//    streams; overlapped with compute (double buffering), so a stage takes max(compute, data movement);
//  - vector kernels (LayerNorm, softmax, GELU, quantisation) as cycles per element per tile;
//  - one launch per encoder layer with its fixed overhead.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "model/ggml_file.h"

namespace npuscribe {

struct PhoenixParameters {
  // --- The array (npu.md, "The array") ---
  int columns = 4;          // usable columns (physical column 0 is not used by the driver)
  int compute_rows = 4;     // rows 2..5 of each column
  double clock_hz = 1.6e9;  // "about 1.6 GHz ... (unconfirmed)"
  std::uint32_t tile_data_memory_bytes = 65536;   // compute tile: 64 KiB data memory
  std::uint32_t tile_stack_reserve_bytes = 2048;  // kept free for the core's stack (design choice)
  std::uint32_t memtile_bytes = 524288;           // memory tile: 512 KiB
  int compute_dma_in = 2, compute_dma_out = 2;    // compute tile DMA channels: 2 in + 2 out
  int memtile_dma_in = 6, memtile_dma_out = 6;    // memory tile: 6 + 6
  int shim_dma_in = 2, shim_dma_out = 2;          // shim tile: 2 + 2
  double stream_bytes_per_cycle = 4.0;            // 32-bit stream switch
  double int8_macs_per_cycle = 256.0;             // aie::mmul 4x8x8 int8 x int8
  double int16_macs_per_cycle = 64.0;             // int16
  double bf16_macs_per_cycle = 128.0;             // 4x8x4 bf16

  // --- Efficiencies (npu.md, "Measured costs to model") ---
  double kernel_efficiency = 0.80;  // "kernels alone reach about 80%" of peak MACs
  // Operand bytes per cycle that reach one compute tile's matmul (A and B together). Calibration: with
  // 4 B/cycle the model reproduces both whole-array figures of npu.md at 64x64x64 blocks (int16 ~75%,
  // bf16 ~50% of peak); see tests/unit/test_npu_cost_model.cpp.
  double tile_operand_bytes_per_cycle = 4.0;
  // Cycles per kernel call outside the MAC loop (lock acquire/release, loop prologue): estimate.
  double kernel_call_overhead_cycles = 64.0;

  // --- Host side (npu.md, "Measured costs to model") ---
  double host_bytes_per_second = 28e9;  // per direction, "about 28 GB/s ... unconfirmed"
  double launch_overhead_s = 135e-6;    // no-op launch "about 110-160 microseconds per call"
  double stage_sync_s = 2e-6;           // between kernel stages inside a launch (lock hand-over): estimate

  // --- Vector kernels, cycles per element on one tile (estimates from the AIE2 vector width: 32 bf16
  //     lanes per 512-bit vector, several vector ops per element; no npu.md figure) ---
  double layernorm_cycles_per_element = 0.25;  // two passes (stats, normalise+affine) + quantise
  double softmax_cycles_per_element = 0.5;  // dequantise, max, 8.8 fixed point, two table lookups, quantise
  double gelu_cycles_per_element = 0.25;    // 32-segment tanh + polynomial + quantise
  double quantize_cycles_per_element = 0.125;  // abs-max pass + scale pass

  int compute_tiles() const { return columns * compute_rows; }
  double peak_int8_ops_per_second() const { return 2.0 * int8_macs_per_cycle * compute_tiles() * clock_hz; }
};

enum class NpuDataType { int8 = 1, int16 = 2, bf16 = 3 };

// Block sizes of one GEMM on one compute tile (multiples of the aie::mmul shape).
struct GemmBlocking {
  int m = 64, k = 64, n = 64;
};

// Bytes a blocking needs in a tile's data memory: double-buffered A (m x k) and B (k x n) blocks plus the
// accumulator C (m x n, 32-bit for int8/int16, fp32 for bf16).
std::uint32_t gemm_tile_memory_bytes(const GemmBlocking& blocking, NpuDataType type);
// The blocking (from the sizes the kernels are built for) with the best modelled throughput whose memory
// fits tile_data_memory_bytes - tile_stack_reserve_bytes.
GemmBlocking choose_gemm_blocking(const PhoenixParameters& p, NpuDataType type);

struct GemmTiming {
  GemmBlocking blocking;
  double macs = 0;                       // useful MACs (M*N*K)
  std::array<double, 16> tile_busy_s{};  // per compute tile (id = column * 4 + row - 2)
  double compute_s = 0;                  // busiest tile
  double host_bytes = 0;                 // read from + written to host memory
  double data_movement_s = 0;            // host transfer time
  double total_s = 0;                    // max(compute, data movement): double-buffered
  double peak_macs_per_second = 0;       // all compute tiles, this data type
  // Useful MACs / (peak of all tiles * total_s).
  double array_efficiency() const { return total_s > 0 ? macs / (peak_macs_per_second * total_s) : 0.0; }
};

// Where a GEMM's operands come from and its result goes: host memory (through shim and memtile DMAs) or
// on chip (memtiles, e.g. attention scores and probabilities).
struct GemmTraffic {
  bool a_from_host = true;
  bool b_from_host = true;
  bool c_to_host = true;
};

// C[M][N] = A[M][K] * B[K][N] across the whole array, `repeat` independent times (attention heads).
// out_bytes: bytes per output element moved back (8 for a read-modify-write of the fp32 residual).
GemmTiming model_gemm(const PhoenixParameters& p, int m, int n, int k, NpuDataType type, int out_bytes,
                      const GemmBlocking& blocking, int repeat = 1, GemmTraffic traffic = {});
// With the blocking choose_gemm_blocking() picks.
GemmTiming model_gemm(const PhoenixParameters& p, int m, int n, int k, NpuDataType type, int out_bytes,
                      int repeat = 1, GemmTraffic traffic = {});

// One kernel stage of an encoder layer as the design runs it: every compute tile works on its share.
struct PhoenixStage {
  std::string kernel;  // "npu.gemm.qkv", "npu.attn.softmax", ...
  double start_s = 0;  // from the start of the launch
  double duration_s = 0;
  double compute_s = 0;  // busiest tile
  double data_movement_s = 0;
  double host_bytes = 0;
  double operations = 0;  // multiply-adds x 2 (GEMMs) or elements x ops (vector kernels)
  std::array<double, 16> tile_busy_s{};
  bool is_gemm = false;
  GemmBlocking blocking;
};

struct PhoenixLayerSchedule {
  double launch_s = 0;  // fixed launch overhead before the first stage
  std::vector<PhoenixStage> stages;
  double total_s = 0;  // launch + stages
};

PhoenixLayerSchedule model_encoder_layer(const PhoenixParameters& p, int n_ctx, int d_model, int n_head,
                                         int d_ff);

// The modelled time of a whole encoder pass (the layers; the conv stem and final LayerNorm run on the
// host and are not part of it), without running anything.
struct PhoenixEncoderEstimate {
  int layers = 0;
  double compute_s = 0;        // sum over stages of the busiest tile's compute
  double data_movement_s = 0;  // data movement not hidden behind compute
  double launch_s = 0;         // launch overheads
  double total_s = 0;
  double host_bytes = 0;
  double operations = 0;                      // GEMM multiply-adds x 2
  std::array<double, 16> tile_utilisation{};  // busy / total per compute tile
  PhoenixLayerSchedule layer;                 // one layer's schedule (all layers are alike)
};

PhoenixEncoderEstimate estimate_encoder(const WhisperHparams& hparams, const PhoenixParameters& p = {});

// A no-op launch and a single small GEMM launch, for calibration against npu.md's measured figures.
double model_noop_launch_s(const PhoenixParameters& p);
double model_single_gemm_launch_s(const PhoenixParameters& p, int m, int n, int k);

}  // namespace npuscribe
