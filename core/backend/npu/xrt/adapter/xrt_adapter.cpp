// XrtApi over the XRT >= 2.17 C++ API: the module libnpuscribe_xrt.so that open_xrt_device() dlopen()s.
// Thin on purpose: every decision lives in xrt_npu_device.cpp, tested against a test double; this file
// only forwards, and turns every XRT exception into XrtError so no XRT type crosses the module boundary.
// Checked against the XRT headers of 2.17/2.18 (runlist in experimental/xrt_kernel.h) and of the later
// layout (xrt/experimental/xrt_kernel.h).
#include <algorithm>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "backend/npu/xrt/xrt_api.h"
#include "xrt/xrt_bo.h"
#include "xrt/xrt_device.h"
#include "xrt/xrt_hw_context.h"
#include "xrt/xrt_kernel.h"
#if __has_include("xrt/experimental/xrt_kernel.h")
#include "xrt/experimental/xrt_kernel.h"  // xrt::runlist
#elif __has_include("experimental/xrt_kernel.h")
#include "experimental/xrt_kernel.h"  // xrt::runlist (XRT 2.17, 2.18)
#endif

#ifndef NPUSCRIBE_XRT_VERSION
#define NPUSCRIBE_XRT_VERSION "2.17+"
#endif

namespace npuscribe {
namespace {

template <typename Function>
auto forward_errors(const char* what, Function&& function) -> decltype(function()) {
  try {
    return function();
  } catch (const XrtError&) {
    throw;
  } catch (const std::exception& error) {
    throw XrtError(std::string(what) + ": " + error.what());
  }
}

std::string state_name(ert_cmd_state state) {
  switch (state) {
    case ERT_CMD_STATE_COMPLETED:
      return "completed";
    case ERT_CMD_STATE_ERROR:
      return "command error";
    case ERT_CMD_STATE_ABORT:
      return "aborted";
    case ERT_CMD_STATE_TIMEOUT:
      return "timed out";
    case ERT_CMD_STATE_NORESPONSE:
      return "device not responding";
    default:
      return "command state " + std::to_string(static_cast<int>(state));
  }
}

XrtWaitResult from_state(ert_cmd_state state) {
  XrtWaitResult result;
  switch (state) {
    case ERT_CMD_STATE_COMPLETED:
      result.status = XrtWaitStatus::completed;
      return result;
    // Older XRT returns the still-pending state when the wait times out.
    case ERT_CMD_STATE_TIMEOUT:
    case ERT_CMD_STATE_NEW:
    case ERT_CMD_STATE_QUEUED:
    case ERT_CMD_STATE_RUNNING:
    case ERT_CMD_STATE_SUBMITTED:
      result.status = XrtWaitStatus::timeout;
      break;
    default:
      result.status = XrtWaitStatus::failed;
      break;
  }
  result.detail = state_name(state);
  return result;
}

xrt::bo::flags to_xrt(XrtBoFlags flags) {
  return flags == XrtBoFlags::cacheable ? xrt::bo::flags::cacheable : xrt::bo::flags::host_only;
}

class Buffer final : public XrtBuffer {
 public:
  explicit Buffer(xrt::bo bo) : bo_(std::move(bo)) {}
  std::size_t size_bytes() const override { return bo_.size(); }
  std::byte* map() override {
    return forward_errors("mapping an NPU buffer", [&] { return static_cast<std::byte*>(bo_.map()); });
  }
  void sync(XrtSyncDirection direction) override {
    forward_errors("syncing an NPU buffer", [&] {
      bo_.sync(direction == XrtSyncDirection::to_device ? XCL_BO_SYNC_BO_TO_DEVICE
                                                        : XCL_BO_SYNC_BO_FROM_DEVICE);
    });
  }
  const xrt::bo& bo() const { return bo_; }

 private:
  xrt::bo bo_;
};

class Run final : public XrtRun {
 public:
  explicit Run(const xrt::kernel& kernel) : run_(kernel) {}
  void set_arg_u64(int index, std::uint64_t value) override {
    forward_errors("setting an NPU kernel argument", [&] { run_.set_arg(index, value); });
  }
  void set_arg_u32(int index, std::uint32_t value) override {
    forward_errors("setting an NPU kernel argument", [&] { run_.set_arg(index, value); });
  }
  void set_arg_buffer(int index, XrtBuffer& buffer) override {
    forward_errors("setting an NPU kernel argument",
                   [&] { run_.set_arg(index, dynamic_cast<Buffer&>(buffer).bo()); });
  }
  void start() override {
    forward_errors("starting an NPU launch", [&] { run_.start(); });
  }
  XrtWaitResult wait(std::chrono::milliseconds timeout) override {
    return forward_errors("waiting for an NPU launch", [&] { return from_state(run_.wait(timeout)); });
  }
  const xrt::run& run() const { return run_; }

 private:
  xrt::run run_;
};

class Runlist final : public XrtRunlist {
 public:
  explicit Runlist(const xrt::hw_context& context) : runlist_(context) {}
  void add(XrtRun& run) override {
    forward_errors("adding to an NPU runlist", [&] {
      const xrt::run& xrt_run = dynamic_cast<Run&>(run).run();
      runlist_.add(xrt_run);
      runs_.push_back(xrt_run);
    });
  }
  void execute() override {
    forward_errors("submitting an NPU runlist", [&] { runlist_.execute(); });
  }
  XrtWaitResult wait(std::chrono::milliseconds timeout) override {
    try {
      XrtWaitResult result;
      if (runlist_.wait(timeout) == std::cv_status::timeout) {
        result.status = XrtWaitStatus::timeout;
        result.detail = "timed out";
      }
      return result;
    } catch (const xrt::runlist::command_error& error) {
      XrtWaitResult result = from_state(error.get_command_state());
      result.status = XrtWaitStatus::failed;  // a command that did not complete, whatever its state
      const xrt::run failed = error.get_run();
      const auto at = std::find_if(runs_.begin(), runs_.end(), [&](const xrt::run& run) {
        return run.get_handle() == failed.get_handle();
      });
      result.failed_index = at == runs_.end() ? -1 : static_cast<int>(at - runs_.begin());
      result.detail += std::string(": ") + error.what();
      return result;
    } catch (const std::exception& error) {
      throw XrtError(std::string("waiting for an NPU runlist: ") + error.what());
    }
  }

 private:
  xrt::runlist runlist_;
  std::vector<xrt::run> runs_;
};

class Kernel final : public XrtKernel {
 public:
  explicit Kernel(xrt::kernel kernel) : kernel_(std::move(kernel)) {}
  int group_id(int arg_index) override {
    return forward_errors("querying an NPU kernel argument", [&] { return kernel_.group_id(arg_index); });
  }
  std::unique_ptr<XrtRun> make_run() override {
    return forward_errors("creating an NPU launch", [&] { return std::make_unique<Run>(kernel_); });
  }

 private:
  xrt::kernel kernel_;
};

class Xclbin final : public XrtXclbin {
 public:
  explicit Xclbin(xrt::xclbin xclbin) : xclbin_(std::move(xclbin)) {}
  std::string uuid() const override { return xclbin_.get_uuid().to_string(); }
  std::vector<std::string> kernel_names() const override {
    std::vector<std::string> names;
    for (const xrt::xclbin::kernel& kernel : xclbin_.get_kernels()) names.push_back(kernel.get_name());
    return names;
  }
  const xrt::xclbin& xclbin() const { return xclbin_; }

 private:
  xrt::xclbin xclbin_;
};

class HwContext final : public XrtHwContext {
 public:
  explicit HwContext(xrt::hw_context context) : context_(std::move(context)) {}
  std::unique_ptr<XrtKernel> open_kernel(const std::string& name) override {
    return forward_errors("opening the NPU kernel",
                          [&] { return std::make_unique<Kernel>(xrt::kernel(context_, name)); });
  }
  std::unique_ptr<XrtRunlist> make_runlist() override {
    return forward_errors("creating an NPU runlist", [&] { return std::make_unique<Runlist>(context_); });
  }

 private:
  xrt::hw_context context_;
};

class Device final : public XrtDevice {
 public:
  explicit Device(unsigned index) : device_(index) {}
  std::string name() const override { return device_.get_info<xrt::info::device::name>(); }
  std::unique_ptr<XrtXclbin> read_xclbin(const std::string& path) override {
    return forward_errors("reading the NPU design",
                          [&] { return std::make_unique<Xclbin>(xrt::xclbin(path)); });
  }
  void register_xclbin(const XrtXclbin& xclbin) override {
    forward_errors("registering the NPU design",
                   [&] { device_.register_xclbin(dynamic_cast<const Xclbin&>(xclbin).xclbin()); });
  }
  std::unique_ptr<XrtHwContext> make_hw_context(const XrtXclbin& xclbin) override {
    return forward_errors("creating the NPU hardware context", [&] {
      return std::make_unique<HwContext>(
          xrt::hw_context(device_, dynamic_cast<const Xclbin&>(xclbin).xclbin().get_uuid()));
    });
  }
  std::unique_ptr<XrtBuffer> alloc_buffer(std::size_t size_bytes, XrtBoFlags flags, int group_id) override {
    return forward_errors("allocating an NPU buffer", [&] {
      return std::make_unique<Buffer>(
          xrt::bo(device_, size_bytes, to_xrt(flags), static_cast<xrt::memory_group>(group_id)));
    });
  }

 private:
  xrt::device device_;
};

class Api final : public XrtApi {
 public:
  std::string runtime_version() const override { return NPUSCRIBE_XRT_VERSION; }
  std::unique_ptr<XrtDevice> open_device(unsigned index) override {
    return forward_errors("opening the NPU device", [&] { return std::make_unique<Device>(index); });
  }
};

}  // namespace
}  // namespace npuscribe

extern "C" __attribute__((visibility("default"))) int npuscribe_xrt_module_abi() {
  return npuscribe::kXrtModuleAbiVersion;
}

extern "C" __attribute__((visibility("default"))) npuscribe::XrtApi* npuscribe_xrt_create_api() {
  try {
    return new npuscribe::Api();
  } catch (...) {
    return nullptr;
  }
}
