// The real Ryzen AI NPU as an NpuDevice, through XRT >= 2.17.
//
// npuscribe never links XRT: the XRT calls live in the module libnpuscribe_xrt.so (built only when
// find_package(XRT 2.17 CONFIG) succeeds), which open_xrt_device() dlopen()s. So the same binary starts
// and uses the CPU on a machine without XRT, without an NPU, or without a design for the model's shape,
// and says why. The AppImage never bundles XRT: the module uses the host's.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "backend/npu/npu_device.h"
#include "backend/npu/xrt/xrt_api.h"
#include "model/ggml_file.h"

namespace npuscribe {

struct XrtDeviceOptions {
  // The encoder shape the design must have been built for (kernels/iron/).
  int d_model = 0;
  int n_head = 0;
  int n_ctx = 0;
  int n_layer = 0;

  // Built designs: <designs_dir>/<xrt_design_name()>/{final.xclbin,insts.bin}. Empty: the environment
  // variable NPUSCRIBE_NPU_DESIGNS, else <directory of the executable>/../share/npuscribe/npu.
  std::filesystem::path designs_dir;
  // Empty: the environment variable NPUSCRIBE_XRT_MODULE, else
  // <directory of the executable>/../lib/npuscribe/libnpuscribe_xrt.so (build tree and install tree).
  std::filesystem::path module_path;
  // The amdxdna driver's device node; its absence means no NPU (or a kernel older than 6.10).
  std::filesystem::path accel_device = "/dev/accel/accel0";
  unsigned device_index = 0;
  // One layer launch may take this long; a batch of n layers waits n times this. The first launch after
  // the device idled can take over 100 ms (npu.md), so this is generous: it only catches a hung device.
  std::chrono::milliseconds launch_timeout{2000};
  // With a profile sink attached, launch layers one by one so each launch's time is measured (a runlist
  // only reports when the whole batch is done); without one, always one runlist per batch.
  bool time_each_launch_when_profiling = true;

  static XrtDeviceOptions for_model(const WhisperHparams& hparams);
};

// Opens the NPU for the model shape in options. Never throws for a missing piece: returns null and sets
// *why_unavailable (may be null) to a reason a user understands ("this build has no XRT support", "no
// NPU: /dev/accel/accel0 not found (needs Linux 6.10+ with the amdxdna driver)", ...).
std::unique_ptr<NpuDevice> open_xrt_device(const XrtDeviceOptions& options, std::string* why_unavailable);

// The same host logic over any XrtApi (the tests pass a test double). Checks the design files, then
// opens device, design, context and kernel and allocates every buffer that does not depend on weights.
std::unique_ptr<NpuDevice> open_xrt_device_with(std::shared_ptr<XrtApi> api, const XrtDeviceOptions& options,
                                                std::string* why_unavailable);

// Where the design for options' shape is looked for.
std::filesystem::path xrt_design_dir(const XrtDeviceOptions& options);

// Reads an insts.bin: little-endian 32-bit words. Throws npuscribe::Error if the file cannot be read, is
// empty, or its size is not a multiple of 4 bytes.
std::vector<std::uint32_t> read_npu_instructions(const std::filesystem::path& path);

}  // namespace npuscribe
