#include "profile/accuracy.h"

#include "engine/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backend/cpu/cpu_backend.h"

namespace npuscribe {

TensorAgreement agreement(std::span<const float> candidate, std::span<const float> reference) {
  if (candidate.size() != reference.size()) {
    throw Error("Cannot compare tensors of " + std::to_string(candidate.size()) + " and " +
                std::to_string(reference.size()) + " values: the two backends produced different shapes.");
  }
  double dot = 0.0, candidate_sq = 0.0, reference_sq = 0.0, difference_sq = 0.0, max_abs = 0.0;
  bool finite = true;
  for (std::size_t i = 0; i < candidate.size(); ++i) {
    const double c = candidate[i], r = reference[i];
    const double difference = c - r;
    dot += c * r;
    candidate_sq += c * c;
    reference_sq += r * r;
    difference_sq += difference * difference;
    if (!std::isfinite(difference)) finite = false;
    max_abs = std::max(max_abs, std::abs(difference));
  }
  TensorAgreement result;
  if (candidate_sq == 0.0 && reference_sq == 0.0) {
    result.cosine = 1.0;
  } else if (candidate_sq == 0.0 || reference_sq == 0.0) {
    result.cosine = 0.0;
  } else {
    result.cosine = dot / (std::sqrt(candidate_sq) * std::sqrt(reference_sq));
  }
  result.rel_l2 = reference_sq > 0.0 ? std::sqrt(difference_sq / reference_sq) : std::sqrt(difference_sq);
  result.max_abs = max_abs;
  // A NaN or infinity in either tensor must never look like agreement.
  if (!finite) {
    result.cosine = std::numeric_limits<double>::quiet_NaN();
    result.rel_l2 = std::numeric_limits<double>::infinity();
    result.max_abs = std::numeric_limits<double>::infinity();
  }
  return result;
}

EncoderComparison compare_encoder(std::shared_ptr<const WhisperModel> model, EncoderBackend* candidate,
                                  const LogMel& mel, int frame_offset) {
  const WhisperHparams& hparams = model->hparams();
  if (mel.n_mels != hparams.n_mels) {
    throw Error("The mel spectrogram has " + std::to_string(mel.n_mels) + " bands but the model expects " +
                std::to_string(hparams.n_mels) + ".");
  }
  CpuEncoderBackend cpu(model);
  EncoderBackend& other = candidate ? *candidate : cpu;
  const auto runs = [&](EncoderStage stage) -> EncoderBackend& {
    return other.supports(stage) ? other : static_cast<EncoderBackend&>(cpu);
  };

  const int n_frames = 2 * hparams.n_audio_ctx;
  const std::vector<float> window = encoder_mel_window(mel, hparams.n_mels, n_frames, frame_offset);
  const MelWindow view{window.data(), hparams.n_mels, n_frames, n_frames};

  EncoderComparison comparison;
  comparison.reference_backend = std::string(cpu.name());
  comparison.candidate_backend = std::string(other.name());

  Activations reference, compared;
  cpu.conv_stem(view, reference);
  runs(EncoderStage::conv_stem).conv_stem(view, compared);
  comparison.conv_stem = agreement(compared.values, reference.values);

  const std::vector<float>& positional = model->encoder().positional_embedding;
  for (std::size_t i = 0; i < reference.values.size(); ++i) {
    reference.values[i] += positional[i];
    compared.values[i] += positional[i];
  }
  // Each side carries its own activations from layer to layer: the error compounds as it does in use.
  for (int layer = 0; layer < hparams.n_audio_layer; ++layer) {
    cpu.encoder_block(layer, reference);
    int completed_layers = 0;
    // encoder_blocks() rather than encoder_block(): a device backend may implement only the batched call.
    runs(EncoderStage::block).encoder_blocks(layer, 1, compared, &completed_layers);
    comparison.layers.push_back({layer, agreement(compared.values, reference.values)});
  }
  cpu.post_norm(reference);
  runs(EncoderStage::post_norm).post_norm(compared);
  comparison.encoder = agreement(compared.values, reference.values);
  return comparison;
}

namespace {

using Kind = TokenDifference::Kind;

struct EditBuilder {
  std::span<const int> a, b;
  std::vector<std::pair<Kind, int>> script;  // kind, token

  void same(std::size_t i) { script.emplace_back(Kind::same, a[i]); }
  void removed(std::size_t i) { script.emplace_back(Kind::removed, a[i]); }
  void added(std::size_t j) { script.emplace_back(Kind::added, b[j]); }

  // Shortest edit script of a[a0, a1) -> b[b0, b1).
  void diff(std::size_t a0, std::size_t a1, std::size_t b0, std::size_t b1) {
    while (a0 < a1 && b0 < b1 && a[a0] == b[b0]) {
      same(a0++);
      ++b0;
    }
    std::size_t suffix = 0;
    while (a1 - suffix > a0 && b1 - suffix > b0 && a[a1 - suffix - 1] == b[b1 - suffix - 1]) ++suffix;
    a1 -= suffix;
    b1 -= suffix;
    const std::size_t n = a1 - a0, m = b1 - b0;
    if (n == 0) {
      for (std::size_t j = b0; j < b1; ++j) added(j);
    } else if (m == 0) {
      for (std::size_t i = a0; i < a1; ++i) removed(i);
    } else if (n * m <= (std::size_t{1} << 20)) {
      table_diff(a0, a1, b0, b1);
    } else {
      const Snake snake = middle_snake(a0, a1, b0, b1);
      diff(a0, snake.x0, b0, snake.y0);
      for (std::size_t i = snake.x0; i < snake.x1; ++i) same(i);
      diff(snake.x1, a1, snake.y1, b1);
    }
    for (std::size_t i = a1; i < a1 + suffix; ++i) same(i);
  }

  // Small problems: the LCS table of suffixes, walked forwards.
  void table_diff(std::size_t a0, std::size_t a1, std::size_t b0, std::size_t b1) {
    const std::size_t n = a1 - a0, m = b1 - b0, width = m + 1;
    std::vector<int> lcs((n + 1) * width, 0);
    for (std::size_t i = n; i-- > 0;) {
      for (std::size_t j = m; j-- > 0;) {
        lcs[i * width + j] = a[a0 + i] == b[b0 + j]
                                 ? lcs[(i + 1) * width + j + 1] + 1
                                 : std::max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
      }
    }
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[a0 + i] == b[b0 + j]) {
        same(a0 + i++);
        ++j;
      } else if (j == m || (i < n && lcs[(i + 1) * width + j] >= lcs[i * width + j + 1])) {
        removed(a0 + i++);
      } else {
        added(b0 + j++);
      }
    }
  }

  struct Snake {
    std::size_t x0, y0, x1, y1;  // a diagonal run a[x0, x1) == b[y0, y1) on a shortest edit path
  };

  // Myers' linear-space middle snake: forward and reverse searches for furthest-reaching D-paths meet
  // on a shortest path. a[a0, a1) and b[b0, b1) are non-empty and differ at both ends.
  Snake middle_snake(std::size_t a0, std::size_t a1, std::size_t b0, std::size_t b1) const {
    const long n = static_cast<long>(a1 - a0), m = static_cast<long>(b1 - b0);
    const long delta = n - m;
    const bool odd = (delta % 2) != 0;
    const long max_d = (n + m + 1) / 2;
    const long offset = max_d + 1;
    std::vector<long> forward(2 * offset + 1, 0), reverse(2 * offset + 1, 0);
    const auto A = [&](long x) { return a[a0 + static_cast<std::size_t>(x)]; };
    const auto B = [&](long y) { return b[b0 + static_cast<std::size_t>(y)]; };
    const auto snake_at = [&](long x0, long y0, long x1, long y1) {
      return Snake{a0 + static_cast<std::size_t>(x0), b0 + static_cast<std::size_t>(y0),
                   a0 + static_cast<std::size_t>(x1), b0 + static_cast<std::size_t>(y1)};
    };
    for (long d = 0; d <= max_d; ++d) {
      for (long k = -d; k <= d; k += 2) {
        long x = (k == -d || (k != d && forward[offset + k - 1] < forward[offset + k + 1]))
                     ? forward[offset + k + 1]
                     : forward[offset + k - 1] + 1;
        long y = x - k;
        const long x_start = x, y_start = y;
        while (x < n && y < m && A(x) == B(y)) ++x, ++y;
        forward[offset + k] = x;
        // Reverse diagonal c (in reversed coordinates) covers forward diagonal delta - c.
        const long c = delta - k;
        if (odd && c >= -(d - 1) && c <= d - 1 && x + reverse[offset + c] >= n) {
          return snake_at(x_start, y_start, x, y);
        }
      }
      for (long k = -d; k <= d; k += 2) {
        long x = (k == -d || (k != d && reverse[offset + k - 1] < reverse[offset + k + 1]))
                     ? reverse[offset + k + 1]
                     : reverse[offset + k - 1] + 1;
        long y = x - k;
        const long x_start = x, y_start = y;
        while (x < n && y < m && A(n - 1 - x) == B(m - 1 - y)) ++x, ++y;
        reverse[offset + k] = x;
        const long c = delta - k;
        if (!odd && c >= -d && c <= d && x + forward[offset + c] >= n) {
          return snake_at(n - x, m - y, n - x_start, m - y_start);
        }
      }
    }
    // Unreachable: the searches meet by d = ceil((n + m) / 2).
    return snake_at(0, 0, 0, 0);
  }
};

}  // namespace

std::vector<TokenDifference> diff_tokens(std::span<const int> reference, std::span<const int> candidate,
                                         const Tokenizer& tokenizer) {
  EditBuilder builder{reference, candidate, {}};
  builder.diff(0, reference.size(), 0, candidate.size());
  // Within each run of changes, removals first: the sub-problems of the recursion may end in an addition
  // and start with a removal.
  auto& script = builder.script;
  for (auto run = script.begin(); run != script.end();) {
    if (run->first == Kind::same) {
      ++run;
      continue;
    }
    auto run_end = std::find_if(run, script.end(), [](const auto& edit) { return edit.first == Kind::same; });
    std::stable_partition(run, run_end, [](const auto& edit) { return edit.first == Kind::removed; });
    run = run_end;
  }
  std::vector<TokenDifference> differences;
  differences.reserve(script.size());
  for (const auto& [kind, token] : script) differences.push_back({kind, token, tokenizer.token_bytes(token)});
  return differences;
}

namespace {

std::vector<int> text_tokens(const TranscriptResult& result) {
  std::vector<int> tokens;
  for (const Segment& segment : result.segments) {
    for (const TokenTiming& token : segment.tokens) tokens.push_back(token.id);
  }
  return tokens;
}

}  // namespace

TranscriptComparison compare_transcripts(std::shared_ptr<const WhisperModel> model,
                                         std::unique_ptr<EncoderBackend> candidate, const MonoAudio& audio,
                                         const TranscribeOptions& options) {
  Transcriber reference(model);
  Transcriber compared(model, std::move(candidate));
  const TranscriptResult reference_result = reference.transcribe(audio, options);
  const TranscriptResult compared_result = compared.transcribe(audio, options);

  TranscriptComparison comparison;
  comparison.reference_backend = std::string(reference.encoder().backend_name());
  comparison.candidate_backend = std::string(compared.encoder().backend_name());
  comparison.reference_text = reference_result.text();
  comparison.candidate_text = compared_result.text();
  comparison.reference_tokens = text_tokens(reference_result);
  comparison.candidate_tokens = text_tokens(compared_result);
  comparison.differences =
      diff_tokens(comparison.reference_tokens, comparison.candidate_tokens, reference.tokenizer());
  comparison.candidate_device_failures = compared.encoder().device_failures();
  return comparison;
}

}  // namespace npuscribe
