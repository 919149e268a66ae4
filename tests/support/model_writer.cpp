#include "model_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>

#include "util/f16.h"

namespace npuscribe::test {
namespace {

constexpr int kFftBins = 201;  // 400-point FFT: bins 0..200
constexpr double kSampleRateHz = 16000.0;
constexpr int kFftSize = 400;
constexpr int kEndOfTextId = 50256;
constexpr int kQ8BlockElements = 32;
constexpr int kQ8BlockBytes = 34;  // f16 scale + 32 int8
constexpr std::size_t kStreamBufferBytes = 1 << 20;

struct Family {
  int d;
  int heads;
  int layers;
};

ModelShape make_shape(std::string_view name, int n_vocab, Family family, int n_mels) {
  ModelShape shape;
  shape.name = std::string(name);
  shape.n_vocab = n_vocab;
  shape.n_audio_state = shape.n_text_state = family.d;
  shape.n_audio_head = shape.n_text_head = family.heads;
  shape.n_audio_layer = shape.n_text_layer = family.layers;
  shape.n_mels = n_mels;
  return shape;
}

// How a tensor's values are drawn (README "Random weights", without the q/k gain).
enum class Init { kSinusoids, kMatrix, kBias, kLnWeight, kLnBias, kTokenEmbedding, kUnitNormal };

struct TensorSpec {
  std::string name;
  std::vector<std::int64_t> ne;  // ggml order, ne[0] fastest
  Init init;
};

void add_linear(std::vector<TensorSpec>& list, const std::string& prefix, std::int64_t in, std::int64_t out,
                bool with_bias) {
  list.push_back({prefix + ".weight", {in, out}, Init::kMatrix});
  if (with_bias) list.push_back({prefix + ".bias", {out}, Init::kBias});
}

void add_layer_norm(std::vector<TensorSpec>& list, const std::string& prefix, std::int64_t d) {
  list.push_back({prefix + ".weight", {d}, Init::kLnWeight});
  list.push_back({prefix + ".bias", {d}, Init::kLnBias});
}

void add_attention(std::vector<TensorSpec>& list, const std::string& prefix, std::int64_t d) {
  add_linear(list, prefix + ".query", d, d, true);
  add_linear(list, prefix + ".key", d, d, false);  // Whisper's key projection has no bias
  add_linear(list, prefix + ".value", d, d, true);
  add_linear(list, prefix + ".out", d, d, true);
}

void add_mlp(std::vector<TensorSpec>& list, const std::string& prefix, std::int64_t d) {
  add_linear(list, prefix + ".0", d, 4 * d, true);
  add_linear(list, prefix + ".2", 4 * d, d, true);
}

// PyTorch state_dict order, as convert-pt-to-ggml.py writes it.
std::vector<TensorSpec> tensor_list(const ModelShape& shape) {
  std::vector<TensorSpec> list;
  const std::int64_t da = shape.n_audio_state;
  list.push_back({"encoder.positional_embedding", {da, shape.n_audio_ctx}, Init::kSinusoids});
  list.push_back({"encoder.conv1.weight", {3, shape.n_mels, da}, Init::kMatrix});
  list.push_back({"encoder.conv1.bias", {1, da}, Init::kBias});
  list.push_back({"encoder.conv2.weight", {3, da, da}, Init::kMatrix});
  list.push_back({"encoder.conv2.bias", {1, da}, Init::kBias});
  for (int layer = 0; layer < shape.n_audio_layer; ++layer) {
    const std::string block = "encoder.blocks." + std::to_string(layer);
    add_attention(list, block + ".attn", da);
    add_layer_norm(list, block + ".attn_ln", da);
    add_mlp(list, block + ".mlp", da);
    add_layer_norm(list, block + ".mlp_ln", da);
  }
  add_layer_norm(list, "encoder.ln_post", da);

  const std::int64_t dt = shape.n_text_state;
  list.push_back({"decoder.positional_embedding", {dt, shape.n_text_ctx}, Init::kUnitNormal});
  list.push_back({"decoder.token_embedding.weight", {dt, shape.n_vocab}, Init::kTokenEmbedding});
  for (int layer = 0; layer < shape.n_text_layer; ++layer) {
    const std::string block = "decoder.blocks." + std::to_string(layer);
    add_attention(list, block + ".attn", dt);
    add_layer_norm(list, block + ".attn_ln", dt);
    add_attention(list, block + ".cross_attn", dt);
    add_layer_norm(list, block + ".cross_attn_ln", dt);
    add_mlp(list, block + ".mlp", dt);
    add_layer_norm(list, block + ".mlp_ln", dt);
  }
  add_layer_norm(list, "decoder.ln", dt);
  return list;
}

// convert-pt-to-ggml.py keeps these 2-D tensors f32, and whisper.cpp's quantizer skips them.
bool always_f32(const std::string& name) {
  return name == "encoder.positional_embedding" || name == "decoder.positional_embedding" ||
         name == "encoder.conv1.bias" || name == "encoder.conv2.bias";
}

GgmlType stored_type(const TensorSpec& spec, GgmlType matrix_type) {
  if (spec.ne.size() < 2 || always_f32(spec.name)) return GgmlType::f32;
  // The quantizer only converts tensors with exactly 2 dims; the conv kernels stay f16.
  if (matrix_type == GgmlType::q8_0 && spec.ne.size() != 2) return GgmlType::f16;
  return matrix_type;
}

std::int32_t header_ftype(GgmlType matrix_type) {
  switch (matrix_type) {
    case GgmlType::f32:
      return 0;
    case GgmlType::f16:
      return 1;
    case GgmlType::q8_0:
      return 2000 + 7;  // quantisation version 2, file type "mostly q8_0"
    default:
      throw std::invalid_argument("write_random_model: matrix_type must be f32, f16 or q8_0");
  }
}

// Bytes of one row of row_elements values, or 0 if the writer cannot encode that type / row length.
std::uint64_t encoded_row_bytes(std::int32_t type, std::int64_t row_elements) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::f32:
      return static_cast<std::uint64_t>(row_elements) * 4;
    case GgmlType::f16:
      return static_cast<std::uint64_t>(row_elements) * 2;
    case GgmlType::q8_0:
      if (row_elements % kQ8BlockElements != 0) return 0;
      return static_cast<std::uint64_t>(row_elements / kQ8BlockElements) * kQ8BlockBytes;
    default:
      return 0;
  }
}

// Elements a record's data holds; 0 (no data written) for a non-positive extent or a count that overflows,
// so tests can write records that claim absurd shapes.
std::int64_t data_element_count(const std::vector<std::int64_t>& ne) {
  std::int64_t count = 1;
  for (const std::int64_t extent : ne) {
    if (extent <= 0) return 0;
    if (count > std::numeric_limits<std::int64_t>::max() / 8 / extent) return 0;
    count *= extent;
  }
  return count;
}

// Triangular filters on the HTK mel scale from 0 to 8 kHz, area-normalised like librosa's "slaney" norm.
std::vector<float> mel_filters(int n_mels) {
  std::vector<float> weights(static_cast<std::size_t>(std::max(n_mels, 0)) * kFftBins, 0.0f);
  const auto hz_to_mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
  const auto mel_to_hz = [](double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); };
  const double max_mel = hz_to_mel(kSampleRateHz / 2);
  for (int m = 0; m < n_mels; ++m) {
    const double low_hz = mel_to_hz(max_mel * m / (n_mels + 1));
    const double centre_hz = mel_to_hz(max_mel * (m + 1) / (n_mels + 1));
    const double high_hz = mel_to_hz(max_mel * (m + 2) / (n_mels + 1));
    const double area_norm = 2.0 / (high_hz - low_hz);
    for (int bin = 0; bin < kFftBins; ++bin) {
      const double hz = bin * kSampleRateHz / kFftSize;
      const double rising = (hz - low_hz) / (centre_hz - low_hz);
      const double falling = (high_hz - hz) / (high_hz - centre_hz);
      weights[static_cast<std::size_t>(m) * kFftBins + bin] =
          static_cast<float>(std::max(0.0, std::min(rising, falling)) * area_norm);
    }
  }
  return weights;
}

std::string token_text(int id) {
  if (id < 256) return std::string(1, static_cast<char>(id));
  if (id == kEndOfTextId) return "<|endoftext|>";
  return " tok" + std::to_string(id);
}

class Writer {
 public:
  explicit Writer(const std::filesystem::path& path) : buffer_(kStreamBufferBytes), path_(path) {
    out_.rdbuf()->pubsetbuf(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    out_.open(path, std::ios::binary | std::ios::trunc);
    if (!out_) throw std::runtime_error("cannot create " + path.string());
  }

  void bytes(const void* data, std::size_t count) {
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(count));
    position_ += count;
  }
  void i32(std::int32_t value) { bytes(&value, sizeof(value)); }  // x86-64: already little-endian
  void u32(std::uint32_t value) { bytes(&value, sizeof(value)); }
  void skip(std::uint64_t count) {
    out_.seekp(static_cast<std::streamoff>(count), std::ios::cur);
    position_ += count;
  }

  // Extends the file over a trailing hole, then checks that everything reached the disk.
  void finish() {
    out_.close();
    if (!out_) throw std::runtime_error("cannot write " + path_.string());
    if (std::filesystem::file_size(path_) < position_) std::filesystem::resize_file(path_, position_);
  }

 private:
  std::vector<char> buffer_;
  std::filesystem::path path_;
  std::ofstream out_;
  std::uint64_t position_ = 0;
};

// Whisper's sinusoids(): row t is [sin(t w_i) for i < d/2, then cos(t w_i)], w_i = 10000^(-i/(d/2-1)).
// Computed in double and rounded once, like the fixture (float32 arguments would be off by ~1e-4 at t=1500).
void fill_sinusoid_row(std::int64_t t, std::vector<float>& row) {
  const std::int64_t half = static_cast<std::int64_t>(row.size()) / 2;
  const double increment = std::log(10000.0) / static_cast<double>(std::max<std::int64_t>(half - 1, 1));
  for (std::int64_t i = 0; i < half; ++i) {
    const double scaled_time = static_cast<double>(t) * std::exp(-increment * static_cast<double>(i));
    row[i] = static_cast<float>(std::sin(scaled_time));
    row[half + i] = static_cast<float>(std::cos(scaled_time));
  }
  if (row.size() % 2 != 0) row.back() = 0.0f;
}

void encode_row(const std::vector<float>& row, GgmlType type, std::vector<std::uint8_t>& encoded) {
  encoded.clear();
  switch (type) {
    case GgmlType::f32:
      encoded.resize(row.size() * 4);
      std::memcpy(encoded.data(), row.data(), encoded.size());
      break;
    case GgmlType::f16:
      encoded.resize(row.size() * 2);
      for (std::size_t i = 0; i < row.size(); ++i) {
        const std::uint16_t half = f32_to_f16(row[i]);
        std::memcpy(encoded.data() + 2 * i, &half, sizeof(half));
      }
      break;
    case GgmlType::q8_0:
      // ggml's quantize_row_q8_0_ref: d = max|x| / 127, q = round(x / d), ties away from zero.
      for (std::size_t start = 0; start < row.size(); start += kQ8BlockElements) {
        float max_abs = 0.0f;
        for (int j = 0; j < kQ8BlockElements; ++j) max_abs = std::max(max_abs, std::fabs(row[start + j]));
        const float scale = max_abs / 127.0f;
        const float inverse_scale = scale != 0.0f ? 1.0f / scale : 0.0f;
        const std::uint16_t half = f32_to_f16(scale);
        encoded.push_back(static_cast<std::uint8_t>(half & 0xff));
        encoded.push_back(static_cast<std::uint8_t>(half >> 8));
        for (int j = 0; j < kQ8BlockElements; ++j)
          encoded.push_back(static_cast<std::uint8_t>(
              static_cast<std::int8_t>(std::round(row[start + j] * inverse_scale))));
      }
      break;
    default:
      throw std::logic_error("encode_row: unsupported type");
  }
}

}  // namespace

ModelShape official_shape(std::string_view name) {
  constexpr Family kTiny{384, 6, 4}, kBase{512, 8, 6}, kSmall{768, 12, 12}, kMedium{1024, 16, 24},
      kLarge{1280, 20, 32};
  constexpr int kEnglishVocab = 51864, kMultilingualVocab = 51865, kLargeV3Vocab = 51866;
  if (name == "tiny") return make_shape(name, kMultilingualVocab, kTiny, 80);
  if (name == "tiny.en") return make_shape(name, kEnglishVocab, kTiny, 80);
  if (name == "base") return make_shape(name, kMultilingualVocab, kBase, 80);
  if (name == "base.en") return make_shape(name, kEnglishVocab, kBase, 80);
  if (name == "small") return make_shape(name, kMultilingualVocab, kSmall, 80);
  if (name == "small.en") return make_shape(name, kEnglishVocab, kSmall, 80);
  if (name == "medium") return make_shape(name, kMultilingualVocab, kMedium, 80);
  if (name == "medium.en") return make_shape(name, kEnglishVocab, kMedium, 80);
  if (name == "large-v1" || name == "large-v2") return make_shape(name, kMultilingualVocab, kLarge, 80);
  if (name == "large-v3") return make_shape(name, kLargeV3Vocab, kLarge, 128);
  if (name == "large-v3-turbo") {
    ModelShape shape = make_shape(name, kLargeV3Vocab, kLarge, 128);
    shape.n_text_layer = 4;  // turbo prunes the decoder to 4 layers, the encoder keeps 32
    return shape;
  }
  throw std::invalid_argument("unknown Whisper model shape '" + std::string(name) + "'");
}

std::vector<std::string> official_shape_names() {
  return {"tiny",   "tiny.en",   "base",     "base.en",  "small",    "small.en",
          "medium", "medium.en", "large-v1", "large-v2", "large-v3", "large-v3-turbo"};
}

std::uint64_t vocabulary_offset(const ModelShape& shape) {
  return sizeof(ModelHeader) + 2 * sizeof(std::int32_t) +
         static_cast<std::uint64_t>(std::max(shape.n_mels, 0)) * kFftBins * sizeof(float);
}

void write_random_model(const std::filesystem::path& path, const ModelShape& shape,
                        const WriteOptions& options) {
  ModelHeader header{static_cast<std::int32_t>(kGgmlMagic),
                     shape.n_vocab,
                     shape.n_audio_ctx,
                     shape.n_audio_state,
                     shape.n_audio_head,
                     shape.n_audio_layer,
                     shape.n_text_ctx,
                     shape.n_text_state,
                     shape.n_text_head,
                     shape.n_text_layer,
                     shape.n_mels,
                     header_ftype(options.matrix_type)};
  if (options.edit_header) options.edit_header(header);

  Writer out(path);
  for (const std::int32_t value : header) out.i32(value);

  out.i32(shape.n_mels);
  out.i32(kFftBins);
  const std::vector<float> filters = mel_filters(shape.n_mels);
  out.bytes(filters.data(), filters.size() * sizeof(float));

  out.i32(options.vocab_count);
  for (int id = 0; id < options.vocab_count; ++id) {
    const std::string text = token_text(id);
    out.u32(static_cast<std::uint32_t>(text.size()));
    out.bytes(text.data(), text.size());
  }

  std::mt19937_64 generator(options.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<float> row;
  std::vector<std::uint8_t> encoded;

  const auto write_record = [&](const TensorSpec& spec) {
    const GgmlType original_type = stored_type(spec, options.matrix_type);
    std::string name = spec.name;
    std::vector<std::int64_t> ne = spec.ne;
    std::int32_t type = static_cast<std::int32_t>(original_type);
    if (options.edit_record) options.edit_record(name, ne, type);
    if (name.empty()) return;  // dropped: a missing tensor

    out.i32(static_cast<std::int32_t>(ne.size()));
    out.i32(static_cast<std::int32_t>(name.size()));
    out.i32(type);
    for (const std::int64_t extent : ne) out.i32(static_cast<std::int32_t>(extent));
    out.bytes(name.data(), name.size());

    const std::int64_t count = data_element_count(ne);
    const std::int64_t row_elements = ne.empty() ? 1 : ne[0];
    if (count == 0) return;
    // Data follows the edited record if the writer can encode it, else keeps the original type's size.
    GgmlType data_type = static_cast<GgmlType>(type);
    if (encoded_row_bytes(type, row_elements) == 0) data_type = original_type;
    if (encoded_row_bytes(static_cast<std::int32_t>(data_type), row_elements) == 0)
      data_type = GgmlType::f16;  // e.g. an edited q8_0 row that is not a whole number of blocks
    const std::int64_t rows = count / row_elements;
    const std::uint64_t row_bytes = encoded_row_bytes(static_cast<std::int32_t>(data_type), row_elements);

    if (options.sparse_data) {
      out.skip(row_bytes * static_cast<std::uint64_t>(rows));
      return;
    }
    const std::int64_t fan_in = ne.empty() ? 1 : count / ne.back();  // every dim but the output channels
    const double matrix_scale = 1.0 / std::sqrt(static_cast<double>(fan_in));
    row.resize(static_cast<std::size_t>(row_elements));
    for (std::int64_t r = 0; r < rows; ++r) {
      if (spec.init == Init::kSinusoids) {
        fill_sinusoid_row(r, row);
      } else {
        for (float& value : row) {
          const double z = normal(generator);
          switch (spec.init) {
            case Init::kMatrix:
              value = static_cast<float>(z * matrix_scale);
              break;
            case Init::kBias:
            case Init::kLnBias:
              value = static_cast<float>(0.02 * z);
              break;
            case Init::kLnWeight:
              value = static_cast<float>(1.0 + 0.1 * z);
              break;
            case Init::kTokenEmbedding:
              value = static_cast<float>(0.05 * z);
              break;
            case Init::kUnitNormal:
            case Init::kSinusoids:
              value = static_cast<float>(z);
              break;
          }
        }
      }
      encode_row(row, data_type, encoded);
      out.bytes(encoded.data(), encoded.size());
    }
  };

  for (const TensorSpec& spec : tensor_list(shape)) {
    write_record(spec);
    if (spec.name == options.duplicate_record) write_record(spec);
  }
  out.finish();
}

}  // namespace npuscribe::test
