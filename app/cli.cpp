#include "cli.h"

#include <sys/resource.h>
#include <unistd.h>
#include <csignal>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <span>
#include <sstream>

#include "audio/audio_file.h"
#include "engine/features.h"
#include "engine/greedy.h"
#include "engine/transcriber.h"
#include "io/transcript_writer.h"
#include "model/model_download.h"
#include "model/model_registry.h"
#include "model/whisper_model.h"
#include "ops/ops.h"
#include "profile/statistics.h"
#include "util/error.h"
#include "util/parallel.h"

namespace {

using namespace npuscribe;
using namespace npuscribe::cli;

void write_f32(const std::string& path, const std::vector<float>& values) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot open for writing (" + std::strerror(errno) + ").");
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  out.flush();
  if (!out) throw Error(path + ": write failed (disk full?). Free some space and run again.");
}

std::vector<int> parse_token_list(const std::string& text) {
  std::vector<int> tokens;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    try {
      std::size_t used = 0;
      tokens.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw CLI::ValidationError("--tokens",
                                 "'" + item + "' is not a token id; give ids like 50257,50362,843");
    }
  }
  if (tokens.empty()) throw CLI::ValidationError("--tokens", "give at least one token id");
  return tokens;
}

// ---- transcribe ----
struct TranscribeArgs {
  CommonOptions common;
  std::vector<std::string> files;
  std::string language = "auto";
  std::string task = "transcribe";
  std::string format = "txt";
  std::string output_file;
  std::string output_dir;
  int beam = 5;
  int best_of = 5;
  float temperature = 0.0f;
  float temperature_increment = 0.2f;
  std::string prompt;
  bool word_timestamps = false;
  int stream_index = -1;
  std::uint64_t seed = 0;
};

std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) {
  interrupted = true;
}

// Ctrl-C stops the current work cleanly (partial download kept, transcript so far written); a second
// Ctrl-C kills the process as usual.
void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
}

int run_transcribe(const TranscribeArgs& args) {
  const OutputFormat format = parse_output_format(args.format);
  if (!args.output_file.empty() && args.files.size() > 1)
    throw CLI::ValidationError("--output",
                               "one output file for several inputs; use --output-dir DIR instead");
  if (args.output_dir.empty() && args.output_file.empty() && args.files.size() > 1 &&
      format != OutputFormat::txt)
    throw CLI::ValidationError("--format",
                               "several inputs in " + args.format + " format need --output-dir DIR");
  if (args.task != "transcribe" && args.task != "translate")
    throw CLI::ValidationError("--task", "'" + args.task + "' is not a task; use transcribe or translate");
  if (args.language != "auto") language_index(args.language);  // unknown codes fail before any work

  const BackendKind backend_kind = backend_kind_of(args.common);
  (void)backend_kind;  // an unknown backend is a usage error before any work
  auto model = load_model_for(args.common);
  Transcriber transcriber(model, choose_backend(args.common, model).backend);
  // A device failure mid-run: the window is finished on the CPU; the user should know why it got slower.
  transcriber.encoder().set_notice_handler(
      [](const std::string& message) { std::fprintf(stderr, "warning: %s\n", message.c_str()); });
  TranscribeOptions options;
  options.language = args.language;
  options.translate = args.task == "translate";
  options.beam_size = args.beam;
  options.best_of = args.best_of;
  options.temperatures = fallback_temperatures(args.temperature, args.temperature_increment);
  options.initial_prompt = args.prompt;
  options.word_timestamps = args.word_timestamps;
  options.seed = args.seed;
  options.cancel = &interrupted;
  install_interrupt_handler();
  if (!args.output_dir.empty()) std::filesystem::create_directories(args.output_dir);

  int failures = 0;
  for (const std::string& file : args.files) {
    if (interrupted) break;
    try {
      const bool show_progress = ::isatty(STDERR_FILENO);
      const std::int64_t start_ns = now_ns();
      DecodeReport report;
      FeatureOptions feature_options;
      feature_options.stream_index = args.stream_index;
      feature_options.cancel = &interrupted;
      const AudioFeatures features = features_from_file(file, model->mel_filters(), feature_options, &report);
      print_warnings(file, report.warnings);
      TranscriptResult result = transcriber.transcribe(features, options, [&](double fraction, auto) {
        if (!show_progress) return;
        const double elapsed_s = (now_ns() - start_ns) * 1e-9;
        std::fprintf(stderr, "\r%s: %3.0f%%  %.1fx real time ", file.c_str(), fraction * 100,
                     fraction * features.duration_s / std::max(elapsed_s, 1e-9));
      });
      if (show_progress) std::fprintf(stderr, "\n");
      result.warnings.insert(result.warnings.begin(), report.warnings.begin(), report.warnings.end());
      print_warnings(file, std::vector<std::string>(
                               result.warnings.begin() + static_cast<std::ptrdiff_t>(report.warnings.size()),
                               result.warnings.end()));
      if (!result.detected_languages.empty()) {
        std::fprintf(stderr, "%s: detected language %s (%.0f%%)\n", file.c_str(), result.language.c_str(),
                     result.detected_languages.front().probability * 100.0);
      }
      if (!args.output_file.empty()) {
        write_transcript(args.output_file, result, format);
      } else if (!args.output_dir.empty()) {
        write_transcript(output_path_for(file, args.output_dir, format), result, format);
      } else {
        if (args.files.size() > 1) std::printf("==> %s <==\n", file.c_str());
        const std::string text = format_transcript(result, format);
        std::fwrite(text.data(), 1, text.size(), stdout);
        if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
        std::fflush(stdout);
      }
    } catch (const Error& error) {
      std::fprintf(stderr, "error: %s\n", error.what());
      ++failures;
    }
  }
  if (interrupted) {
    std::fprintf(stderr, "error: interrupted; the transcript of the audio processed so far was written.\n");
    return kExitRuntimeError;
  }
  return failures == 0 ? 0 : kExitRuntimeError;
}

// ---- models ----
int run_models_list() {
  std::printf("%-24s %10s  %s\n", "name", "size", "status");
  for (const OfficialModel& model : official_models()) {
    const InstalledState state = installed_state(model);
    std::string status = state.installed ? "installed  " + installed_model_path(model).string()
                         : state.partial ? "partial download (" + format_size(state.size_bytes_on_disk) +
                                               "), resume with `npuscribe models download " + model.name + "`"
                                         : "-";
    std::printf("%-24s %10s  %s\n", model.name.c_str(), format_size(model.size_bytes).c_str(),
                status.c_str());
  }
  std::printf("\nmodels directory: %s\n", models_directory().string().c_str());
  return 0;
}

int run_models_download(const std::string& name) {
  const OfficialModel* model = find_official_model(name);
  if (!model) {
    throw CLI::ValidationError("models download",
                               "'" + name + "' is not an official model; see `npuscribe models list`");
  }
  install_interrupt_handler();
  DownloadOptions options;
  options.cancel = &interrupted;
  const bool show_progress = ::isatty(STDERR_FILENO);
  options.on_progress = [&](const DownloadProgress& progress) {
    if (!show_progress || progress.total_bytes == 0) return;
    const double fraction = static_cast<double>(progress.received_bytes) / progress.total_bytes;
    const int filled = static_cast<int>(fraction * 30);
    std::fprintf(stderr, "\r[%-30s] %5.1f%%  %s / %s  %.1f MiB/s ",
                 std::string(static_cast<std::size_t>(filled), '#').c_str(), fraction * 100,
                 format_size(progress.received_bytes).c_str(), format_size(progress.total_bytes).c_str(),
                 progress.bytes_per_second / (1024.0 * 1024.0));
  };
  const std::filesystem::path path = download_model(*model, options);
  if (show_progress) std::fprintf(stderr, "\n");
  std::printf("%s\n", path.string().c_str());
  return 0;
}

// ---- inspect ----
struct InspectArgs {
  CommonOptions common;
  std::string audio_path, mel_path, conv_path, encoder_path, logits_path, tokens_text;
  int greedy_count = 0;
};

int run_inspect(const InspectArgs& args) {
  // Validate everything the user typed before minutes of work.
  const std::vector<int> tokens =
      args.logits_path.empty() ? std::vector<int>{} : parse_token_list(args.tokens_text);
  backend_kind_of(args.common);
  auto model = load_model_for(args.common);
  const WhisperHparams& h = model->hparams();
  const MonoAudio audio = load_audio(args.audio_path);
  Transcriber transcriber(model, choose_backend(args.common, model).backend);
  const LogMel mel = transcriber.mel().compute(audio.samples);
  if (!args.mel_path.empty()) write_f32(args.mel_path, mel.values);
  if (!args.conv_path.empty()) {
    const Activations stem = transcriber.encoder().conv_stem(mel);
    std::vector<float> channel_major(stem.values.size());  // [n_state][n_audio_ctx], as whisper.cpp dumps it
    for (int t = 0; t < stem.rows; ++t)
      for (int c = 0; c < stem.cols; ++c)
        channel_major[static_cast<std::size_t>(c) * stem.rows + t] =
            stem.values[static_cast<std::size_t>(t) * stem.cols + c];
    write_f32(args.conv_path, channel_major);
  }
  const bool needs_decoder = !args.logits_path.empty() || args.greedy_count > 0;
  if (args.encoder_path.empty() && !needs_decoder) return 0;
  const Activations encoded = transcriber.encoder().encode(mel);
  if (!args.encoder_path.empty()) write_f32(args.encoder_path, encoded.values);
  if (!needs_decoder) return 0;
  const CrossAttentionKv cross = transcriber.decoder().cross_attention_kv(encoded);
  if (!args.logits_path.empty()) {
    SelfAttentionCache cache = transcriber.decoder().new_cache();
    std::vector<float> logits;
    transcriber.decoder().decode(tokens, cross, cache, logits, LogitsRows::all);
    write_f32(args.logits_path, logits);
  }
  if (args.greedy_count > 0) {
    const SpecialTokens& s = transcriber.tokenizer().special();
    const std::vector<int> prompt = {s.sot, s.notimestamps};
    const int count = std::min(args.greedy_count, h.n_text_ctx - static_cast<int>(prompt.size()) + 1);
    const std::vector<int> tokens = argmax_decode(transcriber.decoder(), cross, prompt, count);
    for (std::size_t i = 0; i < tokens.size(); ++i) std::printf("%s%d", i ? " " : "", tokens[i]);
    std::printf("\n");
  }
  return 0;
}

// ---- bench ----
struct BenchArgs {
  CommonOptions common;
  std::string audio_path;
  int runs = 3;
  int decode_tokens = 32;
};

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

template <typename Function>
double best_ms(int runs, Function&& function) {
  double best = INFINITY;
  for (int run = 0; run < runs; ++run) {
    const std::int64_t start = now_ns();
    function();
    best = std::min(best, (now_ns() - start) * 1e-6);
  }
  return best;
}

int run_bench(const BenchArgs& args) {
  backend_kind_of(args.common);
  auto model = load_model_for(args.common);
  const WhisperHparams& h = model->hparams();
  MonoAudio audio;
  if (args.audio_path.empty()) {
    std::mt19937 random(7);  // 30 s of noise: the encoder's cost does not depend on the content
    std::normal_distribution<float> noise(0.0f, 0.1f);
    audio.samples.resize(30 * kWhisperSampleRateHz);
    for (float& sample : audio.samples) sample = noise(random);
  } else {
    audio = load_audio(args.audio_path);
  }
  BackendChoice backend = choose_backend(args.common, model);
  const std::string backend_name = backend.name;
  Transcriber transcriber(model, std::move(backend.backend));
  std::printf("model: %s (%s, d=%d, %d+%d layers), threads: %d, audio: %.1f s, encoder backend: %s\n",
              args.common.model_path.c_str(), h.size_name().c_str(), h.n_audio_state, h.n_audio_layer,
              h.n_text_layer, thread_count(), audio.duration_s(), backend_name.c_str());

  LogMel mel;
  const double mel_ms = best_ms(args.runs, [&] { mel = transcriber.mel().compute(audio.samples); });
  Activations encoded;
  transcriber.encoder().encode(mel);  // warm-up: page in the weights
  const double encoder_ms = best_ms(args.runs, [&] { encoded = transcriber.encoder().encode(mel); });
  // One more pass with profiling on, for the per-kernel breakdown (measured, host clock).
  ProfileRecorder recorder;
  transcriber.encoder().set_profile_sink(&recorder);
  transcriber.encoder().encode(mel);
  transcriber.encoder().set_profile_sink(nullptr);
  const double encoder_gflops = encoder_flops(h) / (encoder_ms * 1e-3) * 1e-9;

  // Reference in the same run: BLAS sgemm on the encoder's largest GEMM shape (MLP up-projection).
  const int m = h.n_audio_ctx, n = 4 * h.n_audio_state, k = h.n_audio_state;
  const double sgemm_gflops = ops::measure_sgemm_gflops(m, n, k, args.runs + 2);

  const CrossAttentionKv cross = transcriber.decoder().cross_attention_kv(encoded);
  const SpecialTokens& s = transcriber.tokenizer().special();
  // Decoder step time for one sequence and for 5 sequences batched (beam search), same prompt and tokens.
  auto decoder_step_ms = [&](int n_sequences) {
    double best = INFINITY;
    for (int run = 0; run < args.runs; ++run) {
      std::vector<SelfAttentionCache> caches(static_cast<std::size_t>(n_sequences),
                                             transcriber.decoder().new_cache());
      std::vector<float> logits;
      const int prompt[] = {s.sot, s.notimestamps};
      for (SelfAttentionCache& cache : caches) transcriber.decoder().decode(prompt, cross, cache, logits);
      const int steps = std::min(args.decode_tokens, h.n_text_ctx - 2);
      std::vector<int> next(
          static_cast<std::size_t>(n_sequences),
          argmax(std::span<const float>(logits).first(static_cast<std::size_t>(h.n_vocab))));
      std::vector<int> rows(static_cast<std::size_t>(n_sequences));
      std::iota(rows.begin(), rows.end(), 0);
      const std::int64_t start = now_ns();
      for (int step = 0; step < steps; ++step) {
        std::vector<DecodeSequence> sequences;
        for (int i = 0; i < n_sequences; ++i)
          sequences.push_back({std::span<const int>(&next[static_cast<std::size_t>(i)], 1),
                               &caches[static_cast<std::size_t>(i)]});
        transcriber.decoder().decode_batch(sequences, cross, rows, logits);
        for (int i = 0; i < n_sequences; ++i)
          next[static_cast<std::size_t>(i)] = argmax(std::span<const float>(logits).subspan(
              static_cast<std::size_t>(i) * h.n_vocab, static_cast<std::size_t>(h.n_vocab)));
      }
      best = std::min(best, (now_ns() - start) * 1e-6 / steps);
    }
    return best;
  };
  const double decoder_ms_per_token = decoder_step_ms(1);
  const double beam_ms_per_token = decoder_step_ms(5);

  // End to end on the given file: greedy and beam 5, no temperature fallback (steady-state speed).
  double greedy_realtime = 0, beam_realtime = 0;
  if (!args.audio_path.empty()) {
    auto realtime_factor = [&](int beam) {
      TranscribeOptions options;
      options.temperatures = {0.0f};
      options.beam_size = beam;
      const std::int64_t start = now_ns();
      transcriber.transcribe(audio, options);
      return audio.duration_s() / ((now_ns() - start) * 1e-9);
    };
    greedy_realtime = realtime_factor(0);
    beam_realtime = realtime_factor(5);
  }

  std::printf("mel:      %8.2f ms for %.1f s of audio\n", mel_ms, audio.duration_s());
  std::printf("encoder:  %8.2f ms per 30-s window, %.1f GFLOP/s\n", encoder_ms, encoder_gflops);
  std::printf("sgemm:    %8.1f GFLOP/s on %dx%dx%d (OpenBLAS, same run)\n", sgemm_gflops, m, n, k);
  std::printf("encoder/sgemm throughput ratio: %.2f\n", encoder_gflops / sgemm_gflops);
  const std::vector<KernelEvent> encoder_events = recorder.events();
  const double modelled_ms = modelled_span_ms(encoder_events);
  if (modelled_ms > 0.0) {
    std::printf(
        "encoder:  %8.2f ms per 30-s window modelled on the NPU (the layers; %.2f ms measured "
        "emulator wall time for the whole pass, host stages included)\n",
        modelled_ms, encoder_ms);
  }
  std::printf(
      "encoder kernels, total time per pass (an NPU kernel's time is summed over the tiles it ran on):\n");
  for (const KernelStatistics& row : kernel_statistics(encoder_events)) {
    if (row.kernel == "encoder") continue;
    std::printf("  %-24s %-8s %8.2f ms  %7.1f GOP/s (%s)\n", row.kernel.c_str(), row.backend.c_str(),
                row.total_ms, row.gops_per_s, row.source == TimingSource::modelled ? "modelled" : "measured");
  }
  std::printf("decoder:  %8.2f ms per token (greedy, 1 sequence)\n", decoder_ms_per_token);
  std::printf("decoder:  %8.2f ms per token (beam 5, batched; %.2fx the greedy step)\n", beam_ms_per_token,
              beam_ms_per_token / decoder_ms_per_token);
  if (!args.audio_path.empty()) {
    std::printf("end to end: %.1fx real time greedy, %.1fx real time beam 5 (%.1f s file, no fallback)\n",
                greedy_realtime, beam_realtime, audio.duration_s());
  }
  std::printf("peak RSS: %8.1f MiB (model file %.1f MiB)\n", peak_rss_mib(),
              model->file().size_bytes() / (1024.0 * 1024.0));
  return 0;
}

}  // namespace

bool wants_cli(int argc, char** argv) {
  return argc > 1;
}

int run_cli(int argc, char** argv) {
  // `npuscribe FILE...` and `npuscribe --model M FILE...` mean `npuscribe transcribe ...`.
  std::vector<char*> arguments(argv, argv + argc);
  static char transcribe_word[] = "transcribe";
  if (argc > 1) {
    const std::string first = argv[1];
    const bool is_command = first == "transcribe" || first == "inspect" || first == "bench" ||
                            first == "models" || first == "profile" || first == "compare";
    const bool is_global_flag = first == "-h" || first == "--help" || first == "--version";
    // An unknown option stays where it is, so the error names it instead of a missing file.
    const bool is_transcribe_option =
        first == "-m" || first.starts_with("--model") || first == "-t" || first.starts_with("--threads") ||
        first == "-l" || first.starts_with("--language") || first == "-f" || first.starts_with("--format");
    if (!is_command && !is_global_flag && (first[0] != '-' || is_transcribe_option))
      arguments.insert(arguments.begin() + 1, transcribe_word);
  }
  argc = static_cast<int>(arguments.size());
  argv = arguments.data();

  CLI::App app{"npuscribe: Whisper speech-to-text on the CPU (and the Ryzen AI NPU)", "npuscribe"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "npuscribe 0.1.0");

  TranscribeArgs transcribe;
  auto* transcribe_command = app.add_subcommand("transcribe", "transcribe audio or video files");
  add_common_options(*transcribe_command, transcribe.common);
  transcribe_command->add_option("files", transcribe.files, "audio or video files (any format FFmpeg reads)")
      ->required()
      ->check(CLI::ExistingPath);
  transcribe_command->add_option("-l,--language", transcribe.language,
                                 "spoken language code, or auto (default)");
  transcribe_command->add_option("--task", transcribe.task, "transcribe (default) or translate (to English)");
  transcribe_command->add_option("-f,--format", transcribe.format, "txt (default), srt, vtt or json");
  transcribe_command->add_option("-o,--output", transcribe.output_file, "write the transcript to FILE");
  transcribe_command->add_option("--output-dir", transcribe.output_dir,
                                 "write one transcript per input into DIR");
  transcribe_command
      ->add_option("--beam", transcribe.beam, "beam size at temperature 0 (default 5; 1 = greedy)")
      ->check(CLI::Range(1, 16));
  transcribe_command
      ->add_option("--best-of", transcribe.best_of, "candidates sampled at temperature > 0 (default 5)")
      ->check(CLI::Range(1, 16));
  transcribe_command
      ->add_option("--temperature", transcribe.temperature, "first sampling temperature (default 0)")
      ->check(CLI::Range(0.0f, 1.0f));
  transcribe_command
      ->add_option("--temperature-increment", transcribe.temperature_increment,
                   "fallback step when a window fails (default 0.2; 0 disables fallback)")
      ->check(CLI::Range(0.0f, 1.0f));
  transcribe_command->add_option("--prompt", transcribe.prompt, "initial prompt: vocabulary, names, style");
  transcribe_command->add_flag("--word-timestamps", transcribe.word_timestamps,
                               "word-level timestamps (srt, vtt, json)");
  transcribe_command->add_option("--stream", transcribe.stream_index,
                                 "audio stream index (see ffprobe); default: first");
  transcribe_command->add_option("--seed", transcribe.seed, "random seed for temperature sampling");

  std::string download_name;
  auto* models_command = app.add_subcommand("models", "list or download the official whisper.cpp models");
  models_command->require_subcommand(1);
  auto* models_list =
      models_command->add_subcommand("list", "official models, their sizes and which are installed");
  auto* models_download =
      models_command->add_subcommand("download", "download a model (resumable; Ctrl-C cancels)");
  models_download->add_option("name", download_name, "model name, e.g. base.en")->required();

  InspectArgs inspect;
  auto* inspect_command =
      app.add_subcommand("inspect", "write intermediate tensors as raw float32 (little-endian, row-major)");
  add_common_options(*inspect_command, inspect.common);
  inspect_command->add_option("-a,--audio", inspect.audio_path, "audio or video file")
      ->required()
      ->check(CLI::ExistingFile);
  inspect_command->add_option("--mel", inspect.mel_path, "log-mel [n_mels][n_frames], whole padded length");
  inspect_command->add_option("--conv", inspect.conv_path, "conv stem output [n_state][n_audio_ctx]");
  inspect_command->add_option("--encoder", inspect.encoder_path, "encoder output [n_audio_ctx][n_state]");
  auto* tokens_option =
      inspect_command->add_option("--tokens", inspect.tokens_text, "comma-separated token ids");
  inspect_command->add_option("--logits", inspect.logits_path, "logits [n_tokens][n_vocab] for --tokens")
      ->needs(tokens_option);
  inspect_command
      ->add_option("--greedy", inspect.greedy_count, "print N argmax tokens from [sot, notimestamps]")
      ->check(CLI::Range(1, 448));

  BenchArgs bench;
  auto* bench_command = app.add_subcommand("bench", "measure mel, encoder and decoder speed against BLAS");
  add_common_options(*bench_command, bench.common);
  bench_command->add_option("-a,--audio", bench.audio_path, "audio file (default: 30 s of noise)")
      ->check(CLI::ExistingFile);
  bench_command->add_option("--runs", bench.runs, "repetitions; the best is reported")
      ->check(CLI::Range(1, 100));
  bench_command->add_option("--decode-tokens", bench.decode_tokens, "tokens per decoder run")
      ->check(CLI::Range(1, 440));

  ProfileArgs profile;
  CLI::App* profile_command = add_profile_command(app, profile);
  CompareArgs compare;
  CLI::App* compare_command = add_compare_command(app, compare);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsageError;
  }
  try {
    if (*inspect_command && !inspect.tokens_text.empty() && inspect.logits_path.empty())
      throw CLI::ValidationError("--tokens", "needs --logits FILE to write the logits to");
    if (*transcribe_command) return run_transcribe(transcribe);
    if (*inspect_command) return run_inspect(inspect);
    if (*bench_command) return run_bench(bench);
    if (*profile_command) return run_profile(profile);
    if (*compare_command) return run_compare(compare);
    if (*models_list) return run_models_list();
    if (*models_download) return run_models_download(download_name);
  } catch (const CLI::ValidationError& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return kExitUsageError;
  } catch (const Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return kExitRuntimeError;
  } catch (const std::filesystem::filesystem_error& error) {
    std::fprintf(stderr, "error: %s. Check the path and its permissions.\n", error.what());
    return kExitRuntimeError;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory. Use a smaller model or close other programs.\n");
    return kExitRuntimeError;
  }
  return kExitUsageError;
}
