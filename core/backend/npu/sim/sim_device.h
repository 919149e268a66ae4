// The NPU emulator: an NpuDevice that runs the tile kernels of kernels/ on the host (bit-exact in their
// integer arithmetic; the int8 GEMM through an exact float fast path proven identical to the tile kernel)
// and times every kernel on every tile with the Phoenix cost model (phoenix_model.h).
#pragma once

#include <memory>

#include "backend/npu/npu_device.h"
#include "backend/npu/sim/phoenix_model.h"
#include "mm_int8.h"

namespace npuscribe {

struct SimDeviceOptions {
  PhoenixParameters parameters;  // the cost model's figures (defaults: npu.md)
  // Run every int8 GEMM through the host build of the tile kernel (block by block, as on the array)
  // instead of the exact float fast path. Results are identical; only much slower. For tests.
  bool tile_kernel_gemm = false;
};

std::unique_ptr<NpuDevice> make_sim_device();
std::unique_ptr<NpuDevice> make_sim_device(const SimDeviceOptions& options);

// The emulator's exact fast int8 GEMM (int8 widened to float, sgemm in K-chunks of at most 1040 so every
// partial sum is an integer below 2^24, chunks summed in int32): identical to kernels::gemm_i8_tiled.
std::unique_ptr<kernels::GemmI8> make_sim_fast_gemm();

}  // namespace npuscribe
