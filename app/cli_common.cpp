// Helpers shared by the npuscribe subcommands: model and audio loading, backend choice, decoding options.
#include <cstdio>
#include <cstdlib>

#include "audio/audio_file.h"
#include "cli.h"
#include "model/model_registry.h"
#include "util/error.h"
#include "util/parallel.h"

namespace npuscribe::cli {

void add_common_options(CLI::App& command, CommonOptions& common, bool with_backend) {
  command.add_option(
      "-m,--model", common.model_path,
      "model name (base.en, see `npuscribe models list`) or ggml .bin file; default: $NPUSCRIBE_MODEL");
  command.add_option("-t,--threads", common.threads, "worker threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  if (with_backend) {
    command
        .add_option_function<std::string>(
            "--backend",
            [&common](const std::string& value) {
              common.backend = value;
              common.backend_given = true;
            },
            "encoder backend: cpu, npu (Ryzen AI NPU), npu-sim (the NPU emulator) or auto (default: the NPU "
            "when present, else the CPU)")
        ->type_name("NAME");
  }
}

BackendKind backend_kind_of(const CommonOptions& common) {
  try {
    return parse_backend_kind(common.backend);
  } catch (const Error& error) {
    throw CLI::ValidationError("--backend", error.what());
  }
}

std::shared_ptr<const WhisperModel> load_model_for(const CommonOptions& common) {
  set_thread_count(common.threads);
  std::string path = common.model_path;
  if (path.empty()) {
    const char* from_env = std::getenv("NPUSCRIBE_MODEL");
    if (!from_env || !*from_env)
      throw CLI::ValidationError(
          "--model", "no model given: pass --model PATH/TO/ggml-MODEL.bin or set NPUSCRIBE_MODEL");
    path = from_env;
  }
  return WhisperModel::load(resolve_model(path));
}

BackendChoice choose_backend(const CommonOptions& common, std::shared_ptr<const WhisperModel> model) {
  BackendChoice choice = make_encoder_backend(backend_kind_of(common), std::move(model));
  if (common.backend_given || choice.name != "cpu") {
    std::fprintf(
        stderr, "backend: %s (%s%s): %s\n", choice.name.c_str(), choice.description.c_str(),
        choice.timing == TimingSource::modelled && choice.description.find("modelled") == std::string::npos
            ? ", modelled timing"
            : "",
        choice.reason.c_str());
  }
  return choice;
}

void print_warnings(const std::string& file, const std::vector<std::string>& warnings) {
  for (const std::string& warning : warnings)
    std::fprintf(stderr, "warning: %s: %s\n", file.c_str(), warning.c_str());
}

MonoAudio load_audio(const std::string& path) {
  DecodeReport report;
  MonoAudio audio = load_audio_file(path, -1, &report);
  print_warnings(path, report.warnings);
  return audio;
}

std::vector<float> fallback_temperatures(float start, float increment) {
  std::vector<float> temperatures;
  if (increment <= 0.0f) return {start};
  for (float t = start; t <= 1.0f + 1e-6f; t += increment) temperatures.push_back(t);
  if (temperatures.empty()) temperatures.push_back(start);
  return temperatures;
}

void add_decoding_options(CLI::App& command, DecodingArgs& decoding) {
  command.add_option("-l,--language", decoding.language, "spoken language code, or auto (default)");
  command.add_option("--beam", decoding.beam, "beam size at temperature 0 (default 5; 1 = greedy)")
      ->check(CLI::Range(1, 16));
  command
      .add_option("--temperature-increment", decoding.temperature_increment,
                  "fallback step when a window fails (default 0.2; 0 disables fallback)")
      ->check(CLI::Range(0.0f, 1.0f));
}

TranscribeOptions transcribe_options(const DecodingArgs& decoding) {
  if (decoding.language != "auto") language_index(decoding.language);  // unknown codes fail before any work
  TranscribeOptions options;
  options.language = decoding.language;
  options.beam_size = decoding.beam;
  options.temperatures = fallback_temperatures(0.0f, decoding.temperature_increment);
  return options;
}

}  // namespace npuscribe::cli
