// `npuscribe profile` (per-kernel statistics, tile utilisation and a Chrome/Perfetto trace of one
// transcription) and `npuscribe compare` (the NPU encoder against the CPU fp32 reference, layer by layer,
// then both transcripts and their token differences).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "profile/accuracy.h"
#include "profile/statistics.h"
#include "profile/trace.h"
#include "util/error.h"
#include "util/parallel.h"

#include "backend/npu/sim/phoenix_model.h"

namespace npuscribe::cli {

double modelled_span_ms(std::span<const KernelEvent> events) {
  std::int64_t first_ns = 0, last_ns = 0;
  bool any = false;
  for (const KernelEvent& event : events) {
    if (event.source != TimingSource::modelled) continue;
    const std::int64_t end_ns = event.start_ns + std::max<std::int64_t>(event.duration_ns, 0);
    first_ns = any ? std::min(first_ns, event.start_ns) : event.start_ns;
    last_ns = any ? std::max(last_ns, end_ns) : end_ns;
    any = true;
  }
  return any ? static_cast<double>(last_ns - first_ns) / 1e6 : 0.0;
}

namespace {

const char* timing_label(TimingSource source) {
  return source == TimingSource::modelled ? "modelled" : "measured";
}

void print_kernel_table(std::span<const KernelEvent> events) {
  std::printf("%-26s %-8s %7s %10s %10s %10s %9s  %s\n", "kernel", "backend", "count", "mean ms", "p50 ms",
              "p95 ms", "GOP/s", "timing");
  for (const KernelStatistics& row : kernel_statistics(events)) {
    std::printf("%-26s %-8s %7d %10.3f %10.3f %10.3f %9.1f  %s\n", row.kernel.c_str(), row.backend.c_str(),
                row.count, row.mean_ms, row.p50_ms, row.p95_ms, row.gops_per_s, timing_label(row.source));
  }
}

void print_tile_table(std::span<const KernelEvent> events) {
  const std::vector<TileUtilisation> tiles = tile_utilisation(events);
  if (tiles.empty()) return;
  std::printf("\n%-22s %-8s %10s %10s %8s\n", "tile", "backend", "busy ms", "span ms", "busy");
  for (const TileUtilisation& tile : tiles) {
    std::printf("%-22s %-8s %10.3f %10.3f %7.1f%%\n", tile.name.c_str(), tile.backend.c_str(), tile.busy_ms,
                tile.span_ms, tile.utilisation * 100.0);
  }
}

void print_modelled_breakdown(const WhisperHparams& hparams) {
  const PhoenixEncoderEstimate estimate = estimate_encoder(hparams);
  std::printf(
      "\nmodelled Phoenix NPU time of one encoder pass (%d layers, one launch each; the conv stem and "
      "the final LayerNorm run on the host):\n",
      estimate.layers);
  std::printf("  compute        %9.3f ms\n", estimate.compute_s * 1e3);
  std::printf("  data movement  %9.3f ms (not hidden behind compute)\n", estimate.data_movement_s * 1e3);
  std::printf("  launches       %9.3f ms\n", estimate.launch_s * 1e3);
  std::printf("  total          %9.3f ms per 30-s window (%.0fx real time for the encoder layers)\n",
              estimate.total_s * 1e3, estimate.total_s > 0 ? 30.0 / estimate.total_s : 0.0);
  std::printf("  host traffic   %9.1f MB, %.1f GOP\n", estimate.host_bytes / 1e6, estimate.operations / 1e9);
}

}  // namespace

CLI::App* add_profile_command(CLI::App& app, ProfileArgs& args) {
  CLI::App* command = app.add_subcommand(
      "profile", "transcribe a file and report every kernel's time (and each NPU tile's) with a trace");
  add_common_options(*command, args.common);
  command->add_option("-a,--audio", args.audio_path, "audio or video file")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--trace", args.trace_path,
                      "write a Chrome-trace / Perfetto JSON file (open in ui.perfetto.dev)");
  add_decoding_options(*command, args.decoding);
  return command;
}

int run_profile(const ProfileArgs& args) {
  backend_kind_of(args.common);
  if (!args.trace_path.empty()) {
    // Fail before minutes of profiling rather than after.
    const std::filesystem::path folder = std::filesystem::path(args.trace_path).parent_path();
    if (!folder.empty() && !std::filesystem::is_directory(folder)) {
      throw Error("Cannot write the trace \"" + args.trace_path + "\": the folder \"" + folder.string() +
                  "\" does not exist. Create it or choose another path for --trace.");
    }
  }
  const TranscribeOptions options = transcribe_options(args.decoding);
  auto model = load_model_for(args.common);
  const MonoAudio audio = load_audio(args.audio_path);
  BackendChoice backend = choose_backend(args.common, model);
  const std::string backend_name = backend.name;
  const bool modelled = backend.timing == TimingSource::modelled;
  Transcriber transcriber(model, std::move(backend.backend));
  transcriber.encoder().set_notice_handler(
      [](const std::string& message) { std::fprintf(stderr, "warning: %s\n", message.c_str()); });
  ProfileRecorder recorder;
  transcriber.set_profile_sink(&recorder);
  const std::int64_t start_ns = now_ns();
  const TranscriptResult result = transcriber.transcribe(audio, options);
  const double wall_s = static_cast<double>(now_ns() - start_ns) * 1e-9;
  transcriber.set_profile_sink(nullptr);
  const std::vector<KernelEvent> events = recorder.events();

  std::printf("audio: %.1f s, encoder backend: %s, transcribed in %.2f s wall time (%.1fx real time%s)\n",
              audio.duration_s(), backend_name.c_str(), wall_s, audio.duration_s() / std::max(wall_s, 1e-9),
              modelled ? ", emulator included" : "");
  std::printf("text: %s\n\n", result.text().c_str());
  print_kernel_table(events);
  print_tile_table(events);
  if (backend_name == "npu-sim") print_modelled_breakdown(model->hparams());
  if (!args.trace_path.empty()) {
    write_chrome_trace(events, args.trace_path);
    std::printf("\ntrace: %s (%zu events; open in ui.perfetto.dev or chrome://tracing)\n",
                args.trace_path.c_str(), events.size());
  }
  return 0;
}

namespace {

nlohmann::ordered_json agreement_json(const TensorAgreement& agreement) {
  return {{"cosine", agreement.cosine}, {"rel_l2", agreement.rel_l2}, {"max_abs", agreement.max_abs}};
}

const char* kind_name(TokenDifference::Kind kind) {
  switch (kind) {
    case TokenDifference::Kind::same:
      return "same";
    case TokenDifference::Kind::removed:
      return "removed";
    case TokenDifference::Kind::added:
      return "added";
  }
  return "same";
}

// The candidate: the NPU when one is usable, else the emulator (the reason is reported either way).
BackendChoice npu_candidate(std::shared_ptr<const WhisperModel> model) {
  BackendChoice choice = make_encoder_backend(BackendKind::automatic, model);
  if (choice.backend) return choice;
  std::string why = choice.reason;
  const std::string_view cpu_suffix = "; using the CPU";
  if (why.ends_with(cpu_suffix)) why.resize(why.size() - cpu_suffix.size());
  choice = make_encoder_backend(BackendKind::npu_sim, std::move(model));
  choice.reason = why + "; comparing the NPU emulator instead (same kernels, bit-exact integer arithmetic)";
  return choice;
}

// Inline diff: unchanged text as is, [-removed-] and {+added+}.
std::string render_diff(const std::vector<TokenDifference>& differences) {
  std::string out;
  for (std::size_t i = 0; i < differences.size();) {
    if (differences[i].kind == TokenDifference::Kind::same) {
      out += differences[i++].text;
      continue;
    }
    std::string removed, added;
    for (; i < differences.size() && differences[i].kind != TokenDifference::Kind::same; ++i) {
      (differences[i].kind == TokenDifference::Kind::removed ? removed : added) += differences[i].text;
    }
    if (!removed.empty()) out += "[-" + removed + "-]";
    if (!added.empty()) out += "{+" + added + "+}";
  }
  return out;
}

}  // namespace

CLI::App* add_compare_command(CLI::App& app, CompareArgs& args) {
  CLI::App* command = app.add_subcommand(
      "compare",
      "NPU encoder (the device, else the emulator) against the CPU fp32 reference, layer by "
      "layer, then both transcripts");
  add_common_options(*command, args.common, /*with_backend=*/false);
  command->add_option("-a,--audio", args.audio_path, "audio or video file")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_flag("--json", args.json, "print the comparison as JSON");
  add_decoding_options(*command, args.decoding);
  return command;
}

int run_compare(const CompareArgs& args) {
  const TranscribeOptions options = transcribe_options(args.decoding);
  auto model = load_model_for(args.common);
  const MonoAudio audio = load_audio(args.audio_path);
  BackendChoice candidate = npu_candidate(model);
  std::fprintf(stderr, "comparing %s (%s) against cpu fp32: %s\n", candidate.name.c_str(),
               candidate.description.c_str(), candidate.reason.c_str());

  // The first 30-s window, stage by stage.
  Transcriber reference(model);
  const LogMel mel = reference.mel().compute(audio.samples);
  const EncoderComparison encoder = compare_encoder(model, candidate.backend.get(), mel, 0);
  const TranscriptComparison transcripts =
      compare_transcripts(model, std::move(candidate.backend), audio, options);

  int removed = 0, added = 0;
  for (const TokenDifference& difference : transcripts.differences) {
    removed += difference.kind == TokenDifference::Kind::removed;
    added += difference.kind == TokenDifference::Kind::added;
  }

  if (args.json) {
    using nlohmann::ordered_json;
    ordered_json layers = ordered_json::array();
    for (const LayerAgreement& layer : encoder.layers) {
      ordered_json entry = {{"index", layer.index}};
      entry.update(agreement_json(layer.agreement));
      layers.push_back(std::move(entry));
    }
    ordered_json differences = ordered_json::array();
    for (const TokenDifference& difference : transcripts.differences) {
      differences.push_back(
          {{"kind", kind_name(difference.kind)}, {"token", difference.token}, {"text", difference.text}});
    }
    ordered_json document = ordered_json::object();
    document["reference_backend"] = encoder.reference_backend;
    document["candidate_backend"] = encoder.candidate_backend;
    document["candidate_description"] = candidate.description;
    document["candidate_reason"] = candidate.reason;
    document["timing"] = candidate.timing == TimingSource::modelled ? "modelled" : "measured";
    document["conv_stem"] = agreement_json(encoder.conv_stem);
    document["layers"] = std::move(layers);
    document["encoder"] = agreement_json(encoder.encoder);
    document["cpu_text"] = transcripts.reference_text;
    document["npu_text"] = transcripts.candidate_text;
    document["cpu_tokens"] = transcripts.reference_tokens;
    document["npu_tokens"] = transcripts.candidate_tokens;
    document["tokens_removed"] = removed;
    document["tokens_added"] = added;
    document["token_differences"] = std::move(differences);
    document["device_failures"] = transcripts.candidate_device_failures;
    // Token texts can be a fraction of a UTF-8 character: replace such bytes rather than fail.
    std::printf("%s\n", document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }

  std::printf("encoder, first 30-s window: %s against %s (each runs its own chain)\n",
              encoder.candidate_backend.c_str(), encoder.reference_backend.c_str());
  std::printf("%-12s %10s %10s %10s\n", "stage", "cosine", "rel L2", "max abs");
  const auto print_row = [](const std::string& stage, const TensorAgreement& agreement) {
    std::printf("%-12s %10.6f %10.6f %10.4g\n", stage.c_str(), agreement.cosine, agreement.rel_l2,
                agreement.max_abs);
  };
  print_row("conv stem", encoder.conv_stem);
  for (const LayerAgreement& layer : encoder.layers)
    print_row("layer " + std::to_string(layer.index), layer.agreement);
  print_row("output", encoder.encoder);
  std::printf("\ncpu: %s\n", transcripts.reference_text.c_str());
  std::printf("%s: %s\n", transcripts.candidate_backend.c_str(), transcripts.candidate_text.c_str());
  if (removed == 0 && added == 0) {
    std::printf("\ntokens: identical (%zu)\n", transcripts.reference_tokens.size());
  } else {
    std::printf("\ntokens: %d only on the cpu, %d only on %s, of %zu and %zu\n", removed, added,
                transcripts.candidate_backend.c_str(), transcripts.reference_tokens.size(),
                transcripts.candidate_tokens.size());
    std::printf("diff ([-cpu only-] {+%s only+}): %s\n", transcripts.candidate_backend.c_str(),
                render_diff(transcripts.differences).c_str());
  }
  if (transcripts.candidate_device_failures > 0) {
    std::printf("note: the device failed on %d windows; they were finished on the CPU\n",
                transcripts.candidate_device_failures);
  }
  return 0;
}

}  // namespace npuscribe::cli
