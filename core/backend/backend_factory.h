// Choosing the encoder backend: `--backend cpu|npu|npu-sim|auto` on the CLI, the backend selector in the
// GUI. auto takes the NPU when one is present and usable, else the CPU, and says why.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "backend/backend.h"

namespace npuscribe {

enum class BackendKind { cpu = 1, npu = 2, npu_sim = 3, automatic = 4 };

// "cpu", "npu", "npu-sim", "auto"; throws npuscribe::Error naming the valid choices.
BackendKind parse_backend_kind(std::string_view text);
std::string_view to_string(BackendKind kind);

struct BackendChoice {
  std::unique_ptr<EncoderBackend> backend;  // null: the CPU (the Encoder's own fallback backend)
  std::string name;                         // "cpu", "npu", "npu-sim"
  std::string description;                  // "AMD Phoenix NPU via XRT 2.18", "emulated Phoenix NPU", ...
  std::string reason;  // why this one, for the user: "no NPU: /dev/accel/accel0 not found; using the CPU"
  TimingSource timing = TimingSource::measured;
};

// Throws npuscribe::Error when an explicitly requested backend (npu) cannot be used; automatic never
// throws for a missing device, it falls back to the CPU with the reason filled in.
BackendChoice make_encoder_backend(BackendKind kind, std::shared_ptr<const WhisperModel> model);

}  // namespace npuscribe
