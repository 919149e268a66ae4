// The NPU host logic, written once against XrtApi (xrt_api.h), following docs/npu.md:
//   xrt::device(0) -> xrt::xclbin(path) -> device.register_xclbin -> xrt::hw_context(device, uuid)
//   -> xrt::kernel(ctx, "MLIR_AIE"); insts.bin in a cacheable bo on group_id(1); data in host_only bos on
//   group_id(3..7); run = kernel(3, instr_bo, word_count, bo3..bo7); sync to the device before, from after.
// Every buffer is allocated once: instructions, activations, scratch and the dummy at open, the weights
// in load(). Activations ping-pong between two bos inside a batch, so the host touches them only at the
// batch's ends.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "backend/backend.h"
#include "backend/npu/xrt/xrt_device.h"
#include "backend/npu/xrt/xrt_layer_design.h"
#include "encoder_layer.h"
#include "util/parallel.h"

namespace npuscribe {

namespace {

constexpr const char* kUnsecureLoadingVariable = "XRT_HACK_UNSECURE_LOADING_XCLBIN";

std::string unsecure_loading_hint() {
  const char* value = std::getenv(kUnsecureLoadingVariable);
  if (value && std::string(value) == "1") return "";
  return std::string(" (designs built with mlir-aie are unsigned: set ") + kUnsecureLoadingVariable +
         "=1 in the environment)";
}

std::string shape_text(const XrtDeviceOptions& options) {
  return "d_model=" + std::to_string(options.d_model) + ", " + std::to_string(options.n_layer) + " layers";
}

class XrtNpuDevice final : public NpuDevice {
 public:
  XrtNpuDevice(std::shared_ptr<XrtApi> api, XrtDeviceOptions options)
      : api_(std::move(api)), options_(options) {}

  // Throws XrtError (from the API) or Error (a design that does not fit); open_xrt_device_with() turns
  // them into a reason.
  void open(const std::filesystem::path& design_dir) {
    const std::vector<std::uint32_t> instructions =
        read_npu_instructions(design_dir / kXrtDesignInstructions);
    const std::string xclbin_path = (design_dir / kXrtDesignXclbin).string();

    device_ = api_->open_device(options_.device_index);
    device_name_ = device_->name();
    try {
      xclbin_ = device_->read_xclbin(xclbin_path);
      device_->register_xclbin(*xclbin_);
      context_ = device_->make_hw_context(*xclbin_);
    } catch (const XrtError& error) {
      throw Error("XRT could not load the NPU design " + xclbin_path + ": " + error.what() +
                  unsecure_loading_hint());
    }
    const std::vector<std::string> kernels = xclbin_->kernel_names();
    if (std::find(kernels.begin(), kernels.end(), kXrtKernelName) == kernels.end()) {
      throw Error("the NPU design " + xclbin_path + " has no kernel named " + kXrtKernelName +
                  ": rebuild it with kernels/iron/build_designs.py");
    }
    kernel_ = context_->open_kernel(kXrtKernelName);

    // The activations swap argument slots between layers, so both slots must be the same memory group.
    const int in_group = kernel_->group_id(kXrtArgActivationIn);
    const int out_group = kernel_->group_id(kXrtArgActivationOut);
    if (in_group != out_group) {
      throw Error("the NPU design " + xclbin_path +
                  " puts its activation arguments in different memory groups (" + std::to_string(in_group) +
                  " and " + std::to_string(out_group) + "); rebuild it with kernels/iron/build_designs.py");
    }

    instruction_words_ = static_cast<std::uint32_t>(instructions.size());
    instructions_ = device_->alloc_buffer(instructions.size() * sizeof(std::uint32_t), XrtBoFlags::cacheable,
                                          kernel_->group_id(kXrtArgInstructions));
    std::memcpy(instructions_->map(), instructions.data(), instructions.size() * sizeof(std::uint32_t));
    instructions_->sync(XrtSyncDirection::to_device);

    // Padded rows and slack: the design reads and writes whole 4 KiB messages (xrt_layer_design.h).
    const std::size_t activation_bytes = xrt_activation_bytes(options_.n_ctx, options_.d_model);
    activations_[0] = device_->alloc_buffer(activation_bytes, XrtBoFlags::host_only, in_group);
    activations_[1] = device_->alloc_buffer(activation_bytes, XrtBoFlags::host_only, out_group);
    const XrtScratchLayout scratch =
        xrt_scratch_layout(options_.n_ctx, options_.d_model, options_.n_head, d_ff());
    scratch_ =
        device_->alloc_buffer(scratch.total_bytes, XrtBoFlags::host_only, kernel_->group_id(kXrtArgScratch));
    dummy_ =
        device_->alloc_buffer(kXrtDummyBufferBytes, XrtBoFlags::host_only, kernel_->group_id(kXrtArgUnused));
  }

  std::string_view backend_name() const override { return "npu"; }

  std::string description() const override {
    return "AMD " + (device_name_.empty() ? std::string("Ryzen AI NPU") : device_name_) + " via XRT " +
           api_->runtime_version();
  }

  TimingSource timing_source() const override { return TimingSource::measured; }

  NpuTopology topology() const override {
    // The designs target mlir-aie's npu1 device: 4 columns x 4 compute rows, whatever the chip.
    NpuTopology topology;
    topology.generation = device_name_.empty() ? "XDNA1 Phoenix (npu1)" : device_name_ + " (npu1 design)";
    topology.columns = 4;
    topology.compute_rows = 4;
    topology.clock_hz = 0.0;  // not reported by XRT; the measured events carry wall time
    return topology;
  }

  void load(const NpuEncoderImage& image) override {
    if (image.d_model != options_.d_model || image.n_head != options_.n_head ||
        image.n_ctx != options_.n_ctx || image.d_ff != d_ff()) {
      throw Error("the NPU was opened for d_model=" + std::to_string(options_.d_model) + ", n_head=" +
                  std::to_string(options_.n_head) + ", n_ctx=" + std::to_string(options_.n_ctx) +
                  " but the model image has d_model=" + std::to_string(image.d_model) +
                  ", n_head=" + std::to_string(image.n_head) + ", n_ctx=" + std::to_string(image.n_ctx) +
                  ": open the NPU for this model");
    }
    if (image.layers.empty()) throw Error("the NPU model image has no layers");
    const std::size_t layer_bytes = image.layers.front().bytes.size();
    for (const NpuLayerImage& layer : image.layers) {
      if (layer.bytes.empty() || layer.bytes.size() != layer_bytes) {
        throw Error("the NPU model image has layers of different sizes: rebuild it from the model file");
      }
    }
    // The layer design quantises activations per token (the default); per-tensor scaling needs a global
    // reduction the design does not place, so such images run on npu-sim or the CPU instead.
    if (layer_bytes >= sizeof(kernels::EncoderLayerHeader)) {
      kernels::EncoderLayerHeader header;
      std::memcpy(&header, image.layers.front().bytes.data(), sizeof header);
      if (header.magic == kernels::kEncoderLayerMagic &&
          header.activation_scaling != static_cast<std::uint32_t>(kernels::ActivationScaling::per_token)) {
        throw Error(
            "the NPU layer design quantises activations per token, but this model image uses "
            "per-tensor scaling: use per-token scaling or --backend npu-sim");
      }
    }
    weights_.clear();  // a new model replaces the previous one's weights
    try {
      for (const NpuLayerImage& layer : image.layers) {
        auto buffer = device_->alloc_buffer(xrt_layer_buffer_bytes(layer.bytes.size()), XrtBoFlags::host_only,
                                            kernel_->group_id(kXrtArgLayerImage));
        std::memcpy(buffer->map(), layer.bytes.data(), layer.bytes.size());
        buffer->sync(XrtSyncDirection::to_device);
        weights_.push_back(std::move(buffer));
      }
    } catch (const XrtError& error) {
      weights_.clear();
      throw DeviceFailure(std::string("the NPU could not take the model's weights: ") + error.what() +
                          "; using the CPU");
    }
    layer_bytes_ = layer_bytes;
  }

  void run_layers(int first_layer, int layer_count, std::span<float> x, int* completed_layers,
                  ProfileSink* sink) override {
    int completed = 0;
    if (completed_layers) *completed_layers = 0;
    if (weights_.empty()) throw Error("the NPU has no model loaded: call load() first");
    if (first_layer < 0 || layer_count < 0 || first_layer + layer_count > static_cast<int>(weights_.size())) {
      throw Error("NPU layers " + std::to_string(first_layer) + ".." +
                  std::to_string(first_layer + layer_count) + " are outside the loaded model's " +
                  std::to_string(weights_.size()) + " layers");
    }
    if (x.size() != activation_values()) {
      throw Error("the NPU expects " + std::to_string(activation_values()) + " activations ([" +
                  std::to_string(options_.n_ctx) + "][" + std::to_string(options_.d_model) + "]), got " +
                  std::to_string(x.size()));
    }
    if (layer_count == 0) return;
    if (!lost_reason_.empty()) throw DeviceFailure(lost_reason_);

    const std::size_t activation_bytes = x.size() * sizeof(float);
    try {
      std::memcpy(activations_[0]->map(), x.data(), activation_bytes);
      activations_[0]->sync(XrtSyncDirection::to_device);
    } catch (const XrtError& error) {
      throw DeviceFailure(std::string("the NPU did not take the encoder input: ") + error.what());
    }

    // Layer i reads activations_[i % 2] and writes activations_[(i + 1) % 2].
    std::vector<std::unique_ptr<XrtRun>> runs;
    runs.reserve(layer_count);
    XrtWaitResult result;
    int failed_at = -1;  // batch position of the launch that failed or timed out
    try {
      for (int i = 0; i < layer_count; ++i) runs.push_back(make_layer_run(first_layer + i, i % 2));
      if (sink && options_.time_each_launch_when_profiling) {
        for (int i = 0; i < layer_count; ++i) {
          const std::int64_t start_ns = now_ns();
          runs[i]->start();
          result = runs[i]->wait(options_.launch_timeout);
          const std::int64_t end_ns = now_ns();
          if (result.status != XrtWaitStatus::completed) {
            failed_at = i;
            break;
          }
          record_launch(sink, first_layer + i, start_ns, end_ns - start_ns);
          completed = i + 1;
        }
      } else {
        std::unique_ptr<XrtRunlist> runlist = context_->make_runlist();
        for (auto& run : runs) runlist->add(*run);
        runlist->execute();
        result = runlist->wait(options_.launch_timeout * layer_count);
        if (result.status == XrtWaitStatus::completed) {
          completed = layer_count;
        } else if (result.status == XrtWaitStatus::failed && result.failed_index >= 0 &&
                   result.failed_index < layer_count) {
          // Runs in a runlist execute in order: everything before the failing one completed.
          failed_at = result.failed_index;
          completed = failed_at;
        } else {
          // A timeout (or a failure XRT did not attribute) says nothing about progress.
          failed_at = 0;
          completed = 0;
        }
      }
    } catch (const XrtError& error) {
      result.status = XrtWaitStatus::failed;
      result.detail = error.what();
      failed_at = completed;
    }

    if (completed == layer_count) {
      try {
        copy_out(completed, x);
      } catch (const XrtError& error) {
        throw DeviceFailure(std::string("the NPU's encoder output could not be read back: ") + error.what());
      }
      if (completed_layers) *completed_layers = completed;
      return;
    }

    // Failure: x gets the last completed layer's output when it can be read back, else stays the input.
    if (result.status == XrtWaitStatus::timeout) {
      // The device may still be executing and writing our buffers: never launch on it again.
      lost_reason_ =
          "the NPU stopped responding earlier (a launch timed out); restart npuscribe to use it again";
    }
    if (completed > 0) {
      try {
        copy_out(completed, x);
      } catch (const XrtError&) {
        completed = 0;  // x still holds the input
      }
    }
    if (completed_layers) *completed_layers = completed;
    const int failed_layer = first_layer + failed_at;
    std::string message;
    if (result.status == XrtWaitStatus::timeout) {
      message = "the NPU did not finish encoder layer " + std::to_string(failed_layer) + " within " +
                std::to_string(options_.launch_timeout.count()) + " ms per layer";
    } else {
      message = "the NPU failed on encoder layer " + std::to_string(failed_layer);
    }
    if (!result.detail.empty()) message += " (" + result.detail + ")";
    throw DeviceFailure(message + "; the CPU takes over from layer " +
                        std::to_string(first_layer + completed));
  }

  // For tests and diagnostics.
  std::uint32_t instruction_words() const { return instruction_words_; }

 private:
  int d_ff() const { return 4 * options_.d_model; }
  std::size_t activation_values() const {
    return static_cast<std::size_t>(options_.n_ctx) * static_cast<std::size_t>(options_.d_model);
  }

  std::unique_ptr<XrtRun> make_layer_run(int layer, int input_index) {
    std::unique_ptr<XrtRun> run = kernel_->make_run();
    run->set_arg_u64(kXrtArgOpcode, kXrtOpcodeTransaction);
    run->set_arg_buffer(kXrtArgInstructions, *instructions_);
    run->set_arg_u32(kXrtArgInstructionWords, instruction_words_);
    run->set_arg_buffer(kXrtArgLayerImage, *weights_[layer]);
    run->set_arg_buffer(kXrtArgActivationIn, *activations_[input_index]);
    run->set_arg_buffer(kXrtArgActivationOut, *activations_[1 - input_index]);
    run->set_arg_buffer(kXrtArgScratch, *scratch_);
    run->set_arg_buffer(kXrtArgUnused, *dummy_);
    return run;
  }

  // After `completed` layers of a batch the output sits in activations_[completed % 2].
  void copy_out(int completed, std::span<float> x) {
    XrtBuffer& output = *activations_[completed % 2];
    output.sync(XrtSyncDirection::from_device);
    std::memcpy(x.data(), output.map(), x.size() * sizeof(float));
  }

  void record_launch(ProfileSink* sink, int layer, std::int64_t start_ns, std::int64_t duration_ns) const {
    const std::uint64_t n_ctx = options_.n_ctx;
    const std::uint64_t d = options_.d_model;
    KernelEvent event;
    event.kernel = "npu.launch";
    event.backend = "npu";
    event.start_ns = start_ns;
    event.duration_ns = duration_ns;
    // Host memory the launch must touch at least: weights once, x in and out, each scratch byte written
    // and read once.
    event.bytes_moved =
        layer_bytes_ + 2 * n_ctx * d * sizeof(float) +
        2 * xrt_scratch_layout(n_ctx, d, static_cast<std::uint64_t>(options_.n_head), 4 * d).total_bytes;
    event.operations = encoder_layer_operations(n_ctx, d, 4 * d);
    event.layer = layer;
    event.tile = -1;  // the whole array
    event.source = TimingSource::measured;
    sink->record(event);
  }

  std::shared_ptr<XrtApi> api_;
  XrtDeviceOptions options_;
  std::string device_name_;
  // Declaration order is teardown order in reverse: buffers and kernel go before context and device.
  std::unique_ptr<XrtDevice> device_;
  std::unique_ptr<XrtXclbin> xclbin_;
  std::unique_ptr<XrtHwContext> context_;
  std::unique_ptr<XrtKernel> kernel_;
  std::unique_ptr<XrtBuffer> instructions_;
  std::uint32_t instruction_words_ = 0;
  std::unique_ptr<XrtBuffer> activations_[2];
  std::unique_ptr<XrtBuffer> scratch_;
  std::unique_ptr<XrtBuffer> dummy_;
  std::vector<std::unique_ptr<XrtBuffer>> weights_;
  std::size_t layer_bytes_ = 0;
  std::string lost_reason_;
};

bool valid_shape(const XrtDeviceOptions& options) {
  return options.d_model > 0 && options.n_head > 0 && options.d_model % options.n_head == 0 &&
         options.n_ctx > 0 && options.n_layer > 0;
}

}  // namespace

XrtDeviceOptions XrtDeviceOptions::for_model(const WhisperHparams& hparams) {
  XrtDeviceOptions options;
  options.d_model = hparams.n_audio_state;
  options.n_head = hparams.n_audio_head;
  options.n_ctx = hparams.n_audio_ctx;
  options.n_layer = hparams.n_audio_layer;
  return options;
}

std::filesystem::path xrt_design_dir(const XrtDeviceOptions& options) {
  std::filesystem::path root = options.designs_dir;
  if (root.empty()) {
    const char* env = std::getenv("NPUSCRIBE_NPU_DESIGNS");
    if (env && *env) {
      root = env;
    } else {
      std::error_code error;
      const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
      root = error ? std::filesystem::path("/usr/share/npuscribe/npu")
                   : exe.parent_path().parent_path() / "share" / "npuscribe" / "npu";
    }
  }
  return root / xrt_design_name(options.d_model, options.n_head, options.n_ctx);
}

std::vector<std::uint32_t> read_npu_instructions(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error("cannot read the NPU instruction stream " + path.string() + ": rebuild the design");
  const std::streamoff size_bytes = in.tellg();
  if (size_bytes <= 0)
    throw Error("the NPU instruction stream " + path.string() + " is empty: rebuild the design");
  if (size_bytes % 4 != 0) {
    throw Error("the NPU instruction stream " + path.string() + " is " + std::to_string(size_bytes) +
                " bytes, not a whole number of 32-bit words: it is damaged, rebuild the design");
  }
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size_bytes));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size_bytes)) {
    throw Error("cannot read the NPU instruction stream " + path.string() + ": rebuild the design");
  }
  std::vector<std::uint32_t> words(bytes.size() / 4);
  for (std::size_t i = 0; i < words.size(); ++i) {  // little-endian whatever the host
    words[i] = static_cast<std::uint32_t>(bytes[4 * i]) | static_cast<std::uint32_t>(bytes[4 * i + 1]) << 8 |
               static_cast<std::uint32_t>(bytes[4 * i + 2]) << 16 |
               static_cast<std::uint32_t>(bytes[4 * i + 3]) << 24;
  }
  return words;
}

namespace detail {

// Shared with open_xrt_device(): the design files for the shape, or a reason.
bool xrt_design_present(const XrtDeviceOptions& options, std::string* why_unavailable) {
  auto fail = [&](const std::string& reason) {
    if (why_unavailable) *why_unavailable = reason;
    return false;
  };
  if (!valid_shape(options)) {
    return fail("no NPU design for this model shape (d_model=" + std::to_string(options.d_model) +
                ", n_head=" + std::to_string(options.n_head) + ", n_ctx=" + std::to_string(options.n_ctx) +
                "): the shape is not one the NPU designs support");
  }
  const std::filesystem::path dir = xrt_design_dir(options);
  std::error_code error;
  for (const char* file : {kXrtDesignXclbin, kXrtDesignInstructions}) {
    if (!std::filesystem::is_regular_file(dir / file, error)) {
      return fail("no NPU design for this model shape (" + shape_text(options) +
                  "): " + (dir / file).string() +
                  " not found; build with -DNPUSCRIBE_BUILD_NPU_KERNELS=ON or set NPUSCRIBE_NPU_DESIGNS");
    }
  }
  return true;
}

}  // namespace detail

std::unique_ptr<NpuDevice> open_xrt_device_with(std::shared_ptr<XrtApi> api, const XrtDeviceOptions& options,
                                                std::string* why_unavailable) {
  if (!api) {
    if (why_unavailable) *why_unavailable = "this build has no XRT support";
    return nullptr;
  }
  if (!detail::xrt_design_present(options, why_unavailable)) return nullptr;
  auto device = std::make_unique<XrtNpuDevice>(api, options);
  try {
    device->open(xrt_design_dir(options));
  } catch (const XrtError& error) {
    if (why_unavailable) {
      *why_unavailable = "XRT " + api->runtime_version() + " could not open the NPU: " + error.what();
    }
    return nullptr;
  } catch (const Error& error) {
    if (why_unavailable) *why_unavailable = error.what();
    return nullptr;
  }
  return device;
}

}  // namespace npuscribe
