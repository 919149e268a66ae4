#pragma once
// The npuscribe command line: transcribe, inspect, bench, profile, compare, models. Returns the process
// exit code (0 success, 1 runtime error, 2 usage error).
int run_cli(int argc, char** argv);
// True when argv asks for the command line rather than the desktop window.
bool wants_cli(int argc, char** argv);

// ---- shared by the command implementations (app/cli*.cpp) ----
#include <CLI/CLI.hpp>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "audio/audio_buffer.h"
#include "backend/backend_factory.h"
#include "engine/transcriber.h"
#include "model/whisper_model.h"

namespace npuscribe::cli {

inline constexpr int kExitRuntimeError = 1;
inline constexpr int kExitUsageError = 2;

struct CommonOptions {
  std::string model_path;
  int threads = 0;
  std::string backend = "auto";
  bool backend_given = false;  // --backend on the command line: always say which backend runs and why
};

// --model and --threads; with_backend adds --backend cpu|npu|npu-sim|auto.
void add_common_options(CLI::App& command, CommonOptions& common, bool with_backend = true);
// The backend kind, checked before any work: throws CLI::ValidationError (exit 2) naming the choices.
BackendKind backend_kind_of(const CommonOptions& common);
std::shared_ptr<const WhisperModel> load_model_for(const CommonOptions& common);
// Makes the backend and prints the choice and its reason to stderr when --backend was given or the choice
// is not the CPU (so the default run stays quiet on a machine without an NPU).
BackendChoice choose_backend(const CommonOptions& common, std::shared_ptr<const WhisperModel> model);

void print_warnings(const std::string& file, const std::vector<std::string>& warnings);
MonoAudio load_audio(const std::string& path);
std::vector<float> fallback_temperatures(float start, float increment);

// Decoding options for the commands that transcribe as a side effect (profile, compare).
struct DecodingArgs {
  std::string language = "auto";
  int beam = 5;
  float temperature_increment = 0.2f;
};
void add_decoding_options(CLI::App& command, DecodingArgs& decoding);
TranscribeOptions transcribe_options(const DecodingArgs& decoding);

// Modelled time of the events marked modelled: first start to last end, in ms (0 without any).
double modelled_span_ms(std::span<const KernelEvent> events);

// ---- profile (cli_profile.cpp) ----
struct ProfileArgs {
  CommonOptions common;
  DecodingArgs decoding;
  std::string audio_path;
  std::string trace_path;
};
CLI::App* add_profile_command(CLI::App& app, ProfileArgs& args);
int run_profile(const ProfileArgs& args);

// ---- compare (cli_profile.cpp) ----
struct CompareArgs {
  CommonOptions common;
  DecodingArgs decoding;
  std::string audio_path;
  bool json = false;
};
CLI::App* add_compare_command(CLI::App& app, CompareArgs& args);
int run_compare(const CompareArgs& args);

}  // namespace npuscribe::cli
