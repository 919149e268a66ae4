// open_xrt_device(): finds and dlopen()s the XRT module, after the cheap checks that need no XRT at all.
#include "backend/npu/xrt/xrt_device.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

namespace npuscribe {

namespace detail {
bool xrt_design_present(const XrtDeviceOptions& options, std::string* why_unavailable);
}

namespace {

constexpr const char* kModuleFileName = "libnpuscribe_xrt.so";

std::filesystem::path module_path(const XrtDeviceOptions& options) {
  if (!options.module_path.empty()) return options.module_path;
  const char* env = std::getenv("NPUSCRIBE_XRT_MODULE");
  if (env && *env) return env;
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return std::filesystem::path("/usr/lib/npuscribe") / kModuleFileName;
  return exe.parent_path().parent_path() / "lib" / "npuscribe" / kModuleFileName;
}

using AbiFunction = int (*)();
using CreateFunction = XrtApi* (*)();

// The module stays loaded for the life of the process: XRT does not support being unloaded.
struct LoadedModule {
  std::shared_ptr<XrtApi> api;
  std::string error;
};

LoadedModule load_module(const std::filesystem::path& path) {
  LoadedModule loaded;
  // RTLD_LOCAL keeps XRT's symbols out of the global namespace.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* raw = dlerror();
    const std::string message = raw ? raw : "unknown error";
    if (message.find("libxrt") != std::string::npos &&
        message.find("cannot open shared object") != std::string::npos) {
      loaded.error =
          "XRT runtime library libxrt_coreutil.so.2 not found: install XRT 2.17 or newer with the amdxdna "
          "plug-in (amd/xdna-driver) to use the NPU";
    } else if (message.find("undefined symbol") != std::string::npos) {
      loaded.error = "the installed XRT is too old for the NPU (needs 2.17 or newer): " + message;
    } else {
      loaded.error = "could not load the NPU module " + path.string() + ": " + message;
    }
    return loaded;
  }
  auto abi = reinterpret_cast<AbiFunction>(dlsym(handle, kXrtModuleAbiSymbol));
  auto create = reinterpret_cast<CreateFunction>(dlsym(handle, kXrtModuleCreateSymbol));
  if (!abi || !create) {
    loaded.error = path.string() + " is not an npuscribe NPU module: reinstall npuscribe";
    return loaded;
  }
  if (abi() != kXrtModuleAbiVersion) {
    loaded.error =
        "the NPU module " + path.string() + " belongs to another npuscribe version: reinstall npuscribe";
    return loaded;
  }
  try {
    XrtApi* api = create();
    if (!api) {
      loaded.error = "the NPU module " + path.string() + " could not start XRT";
      return loaded;
    }
    loaded.api.reset(api);
  } catch (const std::exception& error) {
    loaded.error = std::string("XRT could not start: ") + error.what();
  }
  return loaded;
}

}  // namespace

std::unique_ptr<NpuDevice> open_xrt_device(const XrtDeviceOptions& options, std::string* why_unavailable) {
  auto fail = [&](const std::string& reason) -> std::unique_ptr<NpuDevice> {
    if (why_unavailable) *why_unavailable = reason;
    return nullptr;
  };
  const std::filesystem::path module = module_path(options);
  std::error_code error;
  if (!std::filesystem::is_regular_file(module, error)) {
    return fail("this build has no XRT support (" + module.string() +
                " not found; build with XRT 2.17 or newer installed to use the NPU)");
  }
  if (!std::filesystem::exists(options.accel_device, error)) {
    return fail("no NPU: " + options.accel_device.string() +
                " not found (needs Linux 6.10+ with the amdxdna driver)");
  }
  if (!detail::xrt_design_present(options, why_unavailable)) return nullptr;

  // One load per module path for the process; later opens reuse it (and its error).
  static std::mutex mutex;
  static std::filesystem::path loaded_path;
  static LoadedModule loaded;
  {
    std::lock_guard lock(mutex);
    if (loaded_path != module) {
      loaded = load_module(module);
      loaded_path = module;
    }
    if (!loaded.api) return fail(loaded.error);
  }
  return open_xrt_device_with(loaded.api, options, why_unavailable);
}

}  // namespace npuscribe
