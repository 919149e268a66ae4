// A Whisper model's weights, found by name in a ggml file and checked against the shapes the
// hyper-parameters imply. Weight matrices stay in the file mapping in their stored type (f16 or a ggml
// quantised type: q4_0, q4_1, q5_0, q5_1, q8_0; this halves or better the
// memory and the bandwidth of the decoder); small vectors are copied out as float32.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "model/ggml_file.h"

namespace npuscribe {

// A linear layer's weight: PyTorch [out][in] = ggml ne [in, out]. Rows are output channels.
struct WeightMatrix {
  GgmlType type = GgmlType::f32;
  int rows = 0;  // output features
  int cols = 0;  // input features
  const std::byte* data = nullptr;
  std::string name;
  std::size_t row_bytes() const;
};

struct LayerNormWeights {
  std::vector<float> gamma;
  std::vector<float> beta;
};

struct AttentionWeights {
  WeightMatrix query, key, value, out;
  std::vector<float> query_bias, value_bias, out_bias;  // key has no bias
};

struct MlpWeights {
  WeightMatrix up;  // [4d][d]
  std::vector<float> up_bias;
  WeightMatrix down;  // [d][4d]
  std::vector<float> down_bias;
};

struct EncoderBlockWeights {
  LayerNormWeights attn_ln;
  AttentionWeights attn;
  LayerNormWeights mlp_ln;
  MlpWeights mlp;
};

struct DecoderBlockWeights {
  LayerNormWeights attn_ln;
  AttentionWeights attn;
  LayerNormWeights cross_attn_ln;
  AttentionWeights cross_attn;
  LayerNormWeights mlp_ln;
  MlpWeights mlp;
};

struct EncoderWeights {
  WeightMatrix conv1;  // [d][n_mels * 3], k fastest
  std::vector<float> conv1_bias;
  WeightMatrix conv2;  // [d][d * 3]
  std::vector<float> conv2_bias;
  std::vector<float> positional_embedding;  // [n_audio_ctx][d]
  std::vector<EncoderBlockWeights> blocks;
  LayerNormWeights ln_post;
};

struct DecoderWeights {
  WeightMatrix token_embedding;             // [n_vocab][d]; also the (tied) output projection
  std::vector<float> positional_embedding;  // [n_text_ctx][d]
  std::vector<DecoderBlockWeights> blocks;
  LayerNormWeights ln;
};

class WhisperModel {
 public:
  // Opens, maps and validates a ggml model. Throws npuscribe::Error (file, tensor and fix in the message).
  static std::shared_ptr<const WhisperModel> load(const std::filesystem::path& path);

  const WhisperHparams& hparams() const { return file_->hparams(); }
  const GgmlModelFile& file() const { return *file_; }
  const MelFilterBank& mel_filters() const { return file_->mel_filters(); }
  const std::vector<std::string>& vocabulary() const { return file_->vocabulary(); }
  const EncoderWeights& encoder() const { return encoder_; }
  const DecoderWeights& decoder() const { return decoder_; }

 private:
  WhisperModel() = default;
  std::unique_ptr<GgmlModelFile> file_;
  EncoderWeights encoder_;
  DecoderWeights decoder_;
};

}  // namespace npuscribe
