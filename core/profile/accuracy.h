// Accuracy of an accelerated encoder against the CPU fp32 reference: tensor agreement per encoder layer
// (each side runs its own chain, so errors accumulate as they would in use) and token-level differences
// between the two transcripts. `npuscribe compare` and the GUI's accuracy panel read these.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "audio/audio_buffer.h"
#include "backend/backend.h"
#include "dsp/log_mel.h"
#include "engine/tokenizer.h"
#include "engine/transcriber.h"

namespace npuscribe {

struct TensorAgreement {
  double cosine = 0.0;  // 1 = same direction; both zero counts as 1, one zero as 0
  double rel_l2 =
      0.0;  // |candidate - reference| / |reference| (|candidate - reference| when the reference is 0)
  double max_abs = 0.0;  // largest elementwise |candidate - reference|
};

// Throws npuscribe::Error when the sizes differ. Sums in double precision.
TensorAgreement agreement(std::span<const float> candidate, std::span<const float> reference);

struct LayerAgreement {
  int index = 0;  // encoder block 0 .. n_audio_layer-1, compared at its output
  TensorAgreement agreement;
};

struct EncoderComparison {
  std::string reference_backend;  // "cpu"
  std::string candidate_backend;  // "npu", "npu-sim", ...
  TensorAgreement conv_stem;      // after the conv stem (before the positional embedding)
  std::vector<LayerAgreement> layers;
  TensorAgreement encoder;  // the final output, after ln_post
};

// Runs the 30-s window of mel starting at frame_offset through the CPU fp32 backend and through candidate,
// stage by stage, comparing after the conv stem, each encoder block and the final LayerNorm. Stages the
// candidate does not support run on the CPU for it (as the Encoder does). candidate null: the CPU against
// itself. A DeviceFailure from the candidate propagates: a comparison must not silently compare the CPU.
EncoderComparison compare_encoder(std::shared_ptr<const WhisperModel> model, EncoderBackend* candidate,
                                  const LogMel& mel, int frame_offset = 0);

struct TokenDifference {
  enum class Kind {
    same = 1,
    removed = 2,
    added = 3
  };  // removed: only in the reference; added: only in the candidate
  Kind kind = Kind::same;
  int token = 0;
  std::string text;  // the token's text (special tokens as "<|...|>")
};

// Shortest edit script between the two token sequences (Myers' O((N+M)D) diff), in order: same tokens
// once, removals before additions at each change.
std::vector<TokenDifference> diff_tokens(std::span<const int> reference, std::span<const int> candidate,
                                         const Tokenizer& tokenizer);

struct TranscriptComparison {
  std::string reference_backend;  // "cpu"
  std::string candidate_backend;
  std::string reference_text;
  std::string candidate_text;
  std::vector<int> reference_tokens;  // the text tokens of every segment, in order
  std::vector<int> candidate_tokens;
  std::vector<TokenDifference> differences;
  int candidate_device_failures = 0;  // windows the candidate's device failed on (finished on the CPU)
};

// Transcribes audio on the CPU and on candidate (null: the CPU again) with the same options and diffs the
// text tokens.
TranscriptComparison compare_transcripts(std::shared_ptr<const WhisperModel> model,
                                         std::unique_ptr<EncoderBackend> candidate, const MonoAudio& audio,
                                         const TranscribeOptions& options = {});

}  // namespace npuscribe
