#include "backend/backend_factory.h"

#include "backend/npu/npu_backend.h"
#include "backend/npu/sim/sim_device.h"
#include "backend/npu/xrt/xrt_device.h"
#include "util/error.h"

namespace npuscribe {

BackendKind parse_backend_kind(std::string_view text) {
  if (text == "cpu") return BackendKind::cpu;
  if (text == "npu") return BackendKind::npu;
  if (text == "npu-sim") return BackendKind::npu_sim;
  if (text == "auto") return BackendKind::automatic;
  throw Error("Unknown backend \"" + std::string(text) + "\": choose cpu, npu, npu-sim or auto.");
}

std::string_view to_string(BackendKind kind) {
  switch (kind) {
    case BackendKind::cpu:
      return "cpu";
    case BackendKind::npu:
      return "npu";
    case BackendKind::npu_sim:
      return "npu-sim";
    case BackendKind::automatic:
      return "auto";
  }
  return "cpu";
}

namespace {

BackendChoice cpu_choice(std::string reason) {
  BackendChoice choice;
  choice.name = "cpu";
  choice.description = "CPU (fp32, OpenBLAS)";
  choice.reason = std::move(reason);
  choice.timing = TimingSource::measured;
  return choice;
}

BackendChoice device_choice(std::shared_ptr<const WhisperModel> model, std::unique_ptr<NpuDevice> device,
                            std::string reason) {
  BackendChoice choice;
  choice.name = std::string(device->backend_name());
  choice.description = device->description();
  choice.timing = device->timing_source();
  choice.reason = std::move(reason);
  choice.backend = make_npu_backend(std::move(model), std::move(device));
  return choice;
}

}  // namespace

BackendChoice make_encoder_backend(BackendKind kind, std::shared_ptr<const WhisperModel> model) {
  if (kind == BackendKind::cpu) return cpu_choice("the CPU was requested");
  if (kind == BackendKind::npu_sim) {
    return device_choice(std::move(model), make_sim_device(), "the NPU emulator was requested");
  }
  std::string why_unavailable;
  std::unique_ptr<NpuDevice> device =
      open_xrt_device(XrtDeviceOptions::for_model(model->hparams()), &why_unavailable);
  if (device) {
    return device_choice(std::move(model), std::move(device),
                         kind == BackendKind::npu ? "the NPU was requested" : "an NPU is present");
  }
  if (kind == BackendKind::npu) {
    throw Error("Cannot use the NPU: " + why_unavailable +
                ". Use --backend cpu, or --backend npu-sim to run the NPU kernels on the emulator.");
  }
  return cpu_choice("no usable NPU (" + why_unavailable + "); using the CPU");
}

}  // namespace npuscribe
