#include "model/whisper_model.h"

#include <cstring>
#include <set>

#include "model/quant.h"
#include "util/error.h"
#include "util/f16.h"

namespace npuscribe {

std::size_t WeightMatrix::row_bytes() const {
  int block_elements = 1, block_bytes = 4;
  ggml_type_layout(static_cast<std::int32_t>(type), &block_elements, &block_bytes);
  return static_cast<std::size_t>(cols) / block_elements * block_bytes;
}

namespace {

// Looks tensors up by name, checks shape and type, and remembers which names were used so that unexpected
// extra tensors can be reported (whisper.cpp rejects them too).
class TensorBinder {
 public:
  explicit TensorBinder(const GgmlModelFile& file) : file_(file) {}

  const TensorRecord& get(const std::string& name, std::initializer_list<std::int64_t> expected_ne) {
    const TensorRecord* record = file_.find(name);
    if (!record) {
      throw Error(
          file_.path().string() + ": tensor '" + name +
          "' is missing. The file is incomplete or was made for a different model; download it again.");
    }
    used_.insert(name);
    TensorRecord expected;
    expected.n_dims = static_cast<int>(expected_ne.size());
    int i = 0;
    for (std::int64_t value : expected_ne) expected.ne[i++] = value;
    bool same = true;
    for (int d = 0; d < 4; ++d) same = same && record->ne[d] == expected.ne[d];
    if (!same) {
      throw Error(file_.path().string() + ": tensor '" + name + "' has shape " + record->shape_string() +
                  ", expected " + expected.shape_string() +
                  " for these hyper-parameters. The file is damaged or was converted wrongly: download the "
                  "model again.");
    }
    return *record;
  }

  std::vector<float> vector_f32(const std::string& name, std::initializer_list<std::int64_t> expected_ne) {
    const TensorRecord& record = get(name, expected_ne);
    if (record.type != GgmlType::f32 && record.type != GgmlType::f16) {
      throw Error(
          file_.path().string() + ": tensor '" + name + "' has type " +
          std::string(ggml_type_name(record.type)) +
          "; expected f32 or f16. The file is damaged or was converted wrongly: download the model again.");
    }
    std::vector<float> values(static_cast<std::size_t>(record.element_count()));
    if (record.type == GgmlType::f32) {
      std::memcpy(values.data(), record.data, values.size() * sizeof(float));
    } else {
      convert_f16_to_f32(record.data, values.data(), values.size());
    }
    return values;
  }

  LayerNormWeights layer_norm(const std::string& prefix, int width) {
    return {vector_f32(prefix + ".weight", {width}), vector_f32(prefix + ".bias", {width})};
  }

  WeightMatrix matrix(const std::string& name, std::initializer_list<std::int64_t> expected_ne) {
    const TensorRecord& record = get(name, expected_ne);
    // f32, f16 and the block-quantised types (q4_0, q4_1, q5_0, q5_1, q8_0) all stay in the mapping in their
    // stored type: the kernels in core/ops read quantised rows directly, so a q5_1 model keeps about a third
    // of the f16 model's weight memory and bandwidth.
    if (record.type != GgmlType::f32 && record.type != GgmlType::f16 && !is_quantized(record.type)) {
      throw Error(file_.path().string() + ": tensor '" + name + "' has unsupported type " +
                  std::string(ggml_type_name(record.type)) + ".");
    }
    WeightMatrix matrix;
    matrix.type = record.type;
    matrix.cols = static_cast<int>(record.ne[0]);
    matrix.rows = static_cast<int>(record.element_count() / record.ne[0]);
    if (record.n_dims == 3) matrix.cols = static_cast<int>(record.ne[0] * record.ne[1]);  // conv: [out][in*k]
    if (record.n_dims == 3) matrix.rows = static_cast<int>(record.ne[2]);
    matrix.data = record.data;
    matrix.name = name;
    return matrix;
  }

  AttentionWeights attention(const std::string& prefix, int width) {
    AttentionWeights weights;
    weights.query = matrix(prefix + ".query.weight", {width, width});
    weights.query_bias = vector_f32(prefix + ".query.bias", {width});
    weights.key = matrix(prefix + ".key.weight", {width, width});
    weights.value = matrix(prefix + ".value.weight", {width, width});
    weights.value_bias = vector_f32(prefix + ".value.bias", {width});
    weights.out = matrix(prefix + ".out.weight", {width, width});
    weights.out_bias = vector_f32(prefix + ".out.bias", {width});
    return weights;
  }

  MlpWeights mlp(const std::string& prefix, int width) {
    MlpWeights weights;
    weights.up = matrix(prefix + ".0.weight", {width, 4 * width});
    weights.up_bias = vector_f32(prefix + ".0.bias", {4 * width});
    weights.down = matrix(prefix + ".2.weight", {4 * width, width});
    weights.down_bias = vector_f32(prefix + ".2.bias", {width});
    return weights;
  }

  void reject_unused() const {
    for (const auto& [name, record] : file_.tensors()) {
      if (!used_.contains(name)) {
        throw Error(
            file_.path().string() + ": unexpected tensor '" + name +
            "' for a model of this shape. The file was made for a different architecture; use a whisper.cpp "
            "ggml Whisper model.");
      }
    }
  }

 private:
  const GgmlModelFile& file_;
  std::set<std::string, std::less<>> used_;
};

}  // namespace

std::shared_ptr<const WhisperModel> WhisperModel::load(const std::filesystem::path& path) {
  std::shared_ptr<WhisperModel> model(new WhisperModel());
  model->file_ = GgmlModelFile::open(path);
  const WhisperHparams& h = model->file_->hparams();
  TensorBinder bind(*model->file_);
  const int d = h.n_audio_state;

  EncoderWeights& encoder = model->encoder_;
  encoder.positional_embedding = bind.vector_f32("encoder.positional_embedding", {d, h.n_audio_ctx});
  encoder.conv1 = bind.matrix("encoder.conv1.weight", {3, h.n_mels, d});
  encoder.conv1_bias = bind.vector_f32("encoder.conv1.bias", {1, d});
  encoder.conv2 = bind.matrix("encoder.conv2.weight", {3, d, d});
  encoder.conv2_bias = bind.vector_f32("encoder.conv2.bias", {1, d});
  for (int layer = 0; layer < h.n_audio_layer; ++layer) {
    const std::string prefix = "encoder.blocks." + std::to_string(layer);
    EncoderBlockWeights block;
    block.attn_ln = bind.layer_norm(prefix + ".attn_ln", d);
    block.attn = bind.attention(prefix + ".attn", d);
    block.mlp_ln = bind.layer_norm(prefix + ".mlp_ln", d);
    block.mlp = bind.mlp(prefix + ".mlp", d);
    encoder.blocks.push_back(std::move(block));
  }
  encoder.ln_post = bind.layer_norm("encoder.ln_post", d);

  DecoderWeights& decoder = model->decoder_;
  const int dt = h.n_text_state;
  decoder.token_embedding = bind.matrix("decoder.token_embedding.weight", {dt, h.n_vocab});
  decoder.positional_embedding = bind.vector_f32("decoder.positional_embedding", {dt, h.n_text_ctx});
  for (int layer = 0; layer < h.n_text_layer; ++layer) {
    const std::string prefix = "decoder.blocks." + std::to_string(layer);
    DecoderBlockWeights block;
    block.attn_ln = bind.layer_norm(prefix + ".attn_ln", dt);
    block.attn = bind.attention(prefix + ".attn", dt);
    block.cross_attn_ln = bind.layer_norm(prefix + ".cross_attn_ln", dt);
    block.cross_attn = bind.attention(prefix + ".cross_attn", dt);
    block.mlp_ln = bind.layer_norm(prefix + ".mlp_ln", dt);
    block.mlp = bind.mlp(prefix + ".mlp", dt);
    decoder.blocks.push_back(std::move(block));
  }
  decoder.ln = bind.layer_norm("decoder.ln", dt);
  bind.reject_unused();
  return model;
}

}  // namespace npuscribe
