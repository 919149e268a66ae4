// A small C++ abstraction of the XRT objects the NPU host code uses (device, xclbin, hw_context, kernel,
// bo, run, runlist). The host logic (xrt_npu_device.cpp) is written once against it; two implementations:
//   - adapter/xrt_adapter.cpp: the real one over the XRT >= 2.17 C++ API, built as the module
//     libnpuscribe_xrt.so that open_xrt_device() dlopen()s, so the npuscribe binary never links XRT;
//   - the test double in tests/unit/test_xrt_device.cpp, which records every call.
// Header-only and Qt-free: it is the ABI between npuscribe and the module (kXrtModuleAbiVersion).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace npuscribe {

// Bumped whenever a class below changes, so a stale module is refused instead of crashing.
inline constexpr int kXrtModuleAbiVersion = 1;

// The module's C entry points (looked up with dlsym).
inline constexpr const char* kXrtModuleAbiSymbol = "npuscribe_xrt_module_abi";
inline constexpr const char* kXrtModuleCreateSymbol = "npuscribe_xrt_create_api";

// Anything XRT threw, as text. The adapter never lets an XRT exception type cross the module boundary.
class XrtError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// xrt::bo::flags that the NPU flow uses.
enum class XrtBoFlags { cacheable = 1, host_only = 2 };

// XCL_BO_SYNC_BO_TO_DEVICE / XCL_BO_SYNC_BO_FROM_DEVICE.
enum class XrtSyncDirection { to_device = 1, from_device = 2 };

// What a wait returned, from ert_cmd_state (COMPLETED / TIMEOUT / anything else).
enum class XrtWaitStatus { completed = 1, timeout = 2, failed = 3 };

struct XrtWaitResult {
  XrtWaitStatus status = XrtWaitStatus::completed;
  // For a runlist that failed: the position (in add() order) of the run that failed, else -1.
  int failed_index = -1;
  std::string detail;  // the command state or XRT's message, for the user
};

// xrt::bo
class XrtBuffer {
 public:
  virtual ~XrtBuffer() = default;
  virtual std::size_t size_bytes() const = 0;
  virtual std::byte* map() = 0;  // host view, valid while the buffer lives
  virtual void sync(XrtSyncDirection direction) = 0;
};

// xrt::run: arguments by index as the MLIR_AIE kernel declares them.
class XrtRun {
 public:
  virtual ~XrtRun() = default;
  virtual void set_arg_u64(int index, std::uint64_t value) = 0;
  virtual void set_arg_u32(int index, std::uint32_t value) = 0;
  virtual void set_arg_buffer(int index, XrtBuffer& buffer) = 0;
  virtual void start() = 0;
  virtual XrtWaitResult wait(std::chrono::milliseconds timeout) = 0;
};

// xrt::runlist (XRT 2.17+): runs execute in add() order, atomically, as one submission.
class XrtRunlist {
 public:
  virtual ~XrtRunlist() = default;
  virtual void add(XrtRun& run) = 0;
  virtual void execute() = 0;
  virtual XrtWaitResult wait(std::chrono::milliseconds timeout) = 0;
};

// xrt::kernel
class XrtKernel {
 public:
  virtual ~XrtKernel() = default;
  virtual int group_id(int arg_index) = 0;
  virtual std::unique_ptr<XrtRun> make_run() = 0;
};

// xrt::xclbin (read from a file, not yet on the device)
class XrtXclbin {
 public:
  virtual ~XrtXclbin() = default;
  virtual std::string uuid() const = 0;
  virtual std::vector<std::string> kernel_names() const = 0;
};

// xrt::hw_context
class XrtHwContext {
 public:
  virtual ~XrtHwContext() = default;
  virtual std::unique_ptr<XrtKernel> open_kernel(const std::string& name) = 0;
  virtual std::unique_ptr<XrtRunlist> make_runlist() = 0;
};

// xrt::device
class XrtDevice {
 public:
  virtual ~XrtDevice() = default;
  virtual std::string name() const = 0;  // xrt::info::device::name, e.g. "NPU Phoenix"
  virtual std::unique_ptr<XrtXclbin> read_xclbin(const std::string& path) = 0;
  virtual void register_xclbin(const XrtXclbin& xclbin) = 0;
  virtual std::unique_ptr<XrtHwContext> make_hw_context(const XrtXclbin& xclbin) = 0;
  virtual std::unique_ptr<XrtBuffer> alloc_buffer(std::size_t size_bytes, XrtBoFlags flags, int group_id) = 0;
};

class XrtApi {
 public:
  virtual ~XrtApi() = default;
  virtual std::string runtime_version() const = 0;  // "2.18.0"
  virtual std::unique_ptr<XrtDevice> open_device(unsigned index) = 0;
};

}  // namespace npuscribe
