// Model loader: every official Whisper shape, the reference fixture checked against its own bytes, the
// random-model writer, quantised files, and damaged files (each must give npuscribe::Error quickly, with a
// message that names the file and the problem, and without sizing any allocation by a bad field).
#include <QByteArray>
#include <QObject>
#include <QString>
#include <QTest>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/ggml_file.h"
#include "model/whisper_model.h"
#include "model_writer.h"
#include "test_support.h"
#include "util/error.h"
#include "util/f16.h"

// The largest single heap allocation since the last reset. Replacing the global operator new covers the
// loader too (same program), so a test can prove that a damaged size field was rejected before anything
// was allocated from it.
namespace {
std::atomic<std::size_t> g_largest_allocation_bytes{0};
}  // namespace

void* operator new(std::size_t bytes) {
  std::size_t seen = g_largest_allocation_bytes.load(std::memory_order_relaxed);
  while (bytes > seen &&
         !g_largest_allocation_bytes.compare_exchange_weak(seen, bytes, std::memory_order_relaxed)) {
  }
  if (void* memory = std::malloc(bytes == 0 ? 1 : bytes)) return memory;
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::size_t) noexcept {
  std::free(memory);
}

namespace {

namespace fs = std::filesystem;
using npuscribe::GgmlModelFile;
using npuscribe::GgmlType;
using npuscribe::WeightMatrix;
using npuscribe::WhisperModel;
using npuscribe::test::ModelHeader;
using npuscribe::test::ModelShape;
using npuscribe::test::official_shape;
using npuscribe::test::write_random_model;
using npuscribe::test::WriteOptions;

constexpr std::uint64_t kFixtureBytes = 77705316;
constexpr std::uint64_t kFixtureFirstDataOffset = 586884;
constexpr int kFixtureTensorCount = 167;
constexpr int kStoredTokens = 50257;
constexpr double kMaxErrorSeconds = 2.0;               // a damaged file must be rejected at once
constexpr std::size_t kMaxAllocationBytes = 64 << 20;  // tiny.en's largest copied vector is 2.3 MB

// Header field indices (ModelHeader order).
enum HeaderField {
  kMagic = 0,
  kVocab = 1,
  kAudioCtx = 2,
  kAudioState = 3,
  kAudioHead = 4,
  kAudioLayer = 5,
  kTextCtx = 6,
  kTextState = 7,
  kTextHead = 8,
  kTextLayer = 9,
  kMels = 10,
  kFtype = 11,
};

// ---- an independent reader of the raw file (plain istream, no loader code) -----------------------------

struct RawTensor {
  std::int32_t type = 0;
  std::vector<std::int64_t> ne;
  std::uint64_t record_offset = 0;  // the n_dims field
  std::uint64_t data_offset = 0;
  std::uint64_t data_bytes = 0;
};

struct RawModel {
  ModelHeader header{};
  std::uint64_t vocabulary_offset = 0;  // the count field
  std::vector<std::string> tokens;
  std::vector<std::string> names;  // file order
  std::map<std::string, RawTensor> tensors;
  std::uint64_t end_offset = 0;
};

std::uint64_t raw_data_bytes(std::int32_t type, std::uint64_t elements) {
  switch (type) {
    case 0:
      return elements * 4;
    case 1:
      return elements * 2;
    case 2:
      return elements / 32 * 18;
    case 3:
      return elements / 32 * 20;
    case 6:
      return elements / 32 * 22;
    case 7:
      return elements / 32 * 24;
    case 8:
      return elements / 32 * 34;
    default:
      throw std::runtime_error("raw reader: unknown type " + std::to_string(type));
  }
}

RawModel read_raw_model(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("raw reader: cannot open " + path.string());
  const auto read = [&](void* out, std::size_t bytes) {
    in.read(static_cast<char*>(out), static_cast<std::streamsize>(bytes));
    if (!in) throw std::runtime_error("raw reader: short read in " + path.string());
  };
  const auto i32 = [&] {
    std::int32_t value;
    read(&value, sizeof(value));
    return value;
  };
  RawModel raw;
  read(raw.header.data(), sizeof(raw.header));
  const std::int64_t n_mel = i32(), n_fft = i32();
  in.seekg(n_mel * n_fft * 4, std::ios::cur);
  raw.vocabulary_offset = static_cast<std::uint64_t>(in.tellg());
  const std::int32_t token_count = i32();
  raw.tokens.resize(static_cast<std::size_t>(token_count));
  for (std::string& token : raw.tokens) {
    token.resize(static_cast<std::uint32_t>(i32()));
    read(token.data(), token.size());
  }
  const std::uint64_t file_bytes = fs::file_size(path);
  std::uint64_t offset = static_cast<std::uint64_t>(in.tellg());
  while (offset < file_bytes) {
    RawTensor tensor;
    tensor.record_offset = offset;
    const std::int32_t n_dims = i32(), name_length = i32();
    tensor.type = i32();
    std::uint64_t elements = 1;
    for (int i = 0; i < n_dims; ++i) {
      tensor.ne.push_back(i32());
      elements *= static_cast<std::uint64_t>(tensor.ne.back());
    }
    std::string name(static_cast<std::size_t>(name_length), '\0');
    read(name.data(), name.size());
    tensor.data_offset = offset + 12 + 4 * static_cast<std::uint64_t>(n_dims) + name.size();
    tensor.data_bytes = raw_data_bytes(tensor.type, elements);
    offset = tensor.data_offset + tensor.data_bytes;
    in.seekg(static_cast<std::streamoff>(offset));
    raw.names.push_back(name);
    raw.tensors[name] = tensor;
  }
  raw.end_offset = offset;
  return raw;
}

QByteArray file_bytes(const fs::path& path, std::uint64_t offset, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  QByteArray bytes(static_cast<qsizetype>(count), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(count));
  if (!in)
    throw std::runtime_error("cannot read " + std::to_string(count) + " bytes at " + std::to_string(offset));
  return bytes;
}

void patch_bytes(const fs::path& path, std::uint64_t offset, const void* data, std::size_t count) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(static_cast<const char*>(data), static_cast<std::streamsize>(count));
  if (!file) throw std::runtime_error("cannot patch " + path.string());
}

void patch_i32(const fs::path& path, std::uint64_t offset, std::int32_t value) {
  patch_bytes(path, offset, &value, sizeof(value));
}

QByteArray bytes_of(const void* data, std::size_t count) {
  return QByteArray(static_cast<const char*>(data), static_cast<qsizetype>(count));
}

// One element of a weight matrix as the loader exposes it: [row][col] in its stored f32/f16 encoding.
QByteArray matrix_element(const WeightMatrix& matrix, int row, int col) {
  const std::size_t element_bytes = matrix.type == GgmlType::f32 ? 4 : 2;
  return bytes_of(matrix.data + static_cast<std::size_t>(row) * matrix.row_bytes() + col * element_bytes,
                  element_bytes);
}

// ---- writing test models --------------------------------------------------------------------------------

WriteOptions sparse_options() {
  WriteOptions options;
  options.sparse_data = true;
  return options;
}

using RecordEdit = std::function<void(std::vector<std::int64_t>& ne, std::int32_t& type)>;

// Options that change one named record (and nothing else).
WriteOptions edit_tensor(const std::string& target, RecordEdit edit,
                         WriteOptions options = sparse_options()) {
  options.edit_record = [target, edit](std::string& name, std::vector<std::int64_t>& ne, std::int32_t& type) {
    if (name == target) edit(ne, type);
  };
  return options;
}

WriteOptions drop_tensor(const std::string& target) {
  WriteOptions options = sparse_options();
  options.edit_record = [target](std::string& name, std::vector<std::int64_t>&, std::int32_t&) {
    if (name == target) name.clear();
  };
  return options;
}

WriteOptions edit_header_field(int field, std::int32_t value) {
  WriteOptions options = sparse_options();
  options.edit_header = [field, value](ModelHeader& header) { header[field] = value; };
  return options;
}

fs::path write_tiny(const fs::path& path, const WriteOptions& options = sparse_options()) {
  write_random_model(path, official_shape("tiny.en"), options);
  return path;
}

// A custom shape small enough to write with real random data in a fraction of a second.
ModelShape mini_shape() {
  return ModelShape{.name = "mini",
                    .n_vocab = 51864,
                    .n_audio_ctx = 1500,
                    .n_audio_state = 64,
                    .n_audio_head = 2,
                    .n_audio_layer = 1,
                    .n_text_ctx = 448,
                    .n_text_state = 64,
                    .n_text_head = 2,
                    .n_text_layer = 1,
                    .n_mels = 80};
}

bool same_file_contents(const fs::path& a, const fs::path& b) {
  if (fs::file_size(a) != fs::file_size(b)) return false;
  std::ifstream in_a(a, std::ios::binary), in_b(b, std::ios::binary);
  std::vector<char> chunk_a(1 << 20), chunk_b(1 << 20);
  while (in_a && in_b) {
    in_a.read(chunk_a.data(), static_cast<std::streamsize>(chunk_a.size()));
    in_b.read(chunk_b.data(), static_cast<std::streamsize>(chunk_b.size()));
    if (in_a.gcount() != in_b.gcount() ||
        std::memcmp(chunk_a.data(), chunk_b.data(), static_cast<std::size_t>(in_a.gcount())) != 0)
      return false;
  }
  return true;
}

double std_dev(const std::vector<float>& values) {
  double sum = 0, sum_sq = 0;
  for (const float v : values) sum += v, sum_sq += static_cast<double>(v) * v;
  const double mean = sum / values.size();
  return std::sqrt(sum_sq / values.size() - mean * mean);
}

double mean_of(const std::vector<float>& values) {
  double sum = 0;
  for (const float v : values) sum += v;
  return sum / values.size();
}

std::vector<float> matrix_values(const WeightMatrix& matrix) {
  std::vector<float> values(static_cast<std::size_t>(matrix.rows) * matrix.cols);
  if (matrix.type == GgmlType::f32) {
    std::memcpy(values.data(), matrix.data, values.size() * sizeof(float));
  } else {
    npuscribe::convert_f16_to_f32(matrix.data, values.data(), values.size());
  }
  return values;
}

// ---- loading and judging errors -------------------------------------------------------------------------

struct LoadAttempt {
  enum class Result { kLoaded, kError, kBadAlloc, kOtherException };
  Result result = Result::kLoaded;
  std::string message;
  double seconds = 0;
  std::size_t largest_allocation_bytes = 0;
  std::shared_ptr<const WhisperModel> model;
};

LoadAttempt attempt_load(const fs::path& path) {
  LoadAttempt attempt;
  const auto start = std::chrono::steady_clock::now();
  g_largest_allocation_bytes = 0;
  try {
    attempt.model = WhisperModel::load(path);
  } catch (const npuscribe::Error& error) {
    attempt.result = LoadAttempt::Result::kError;
    attempt.message = error.what();
  } catch (const std::bad_alloc&) {
    attempt.result = LoadAttempt::Result::kBadAlloc;
  } catch (const std::exception& error) {
    attempt.result = LoadAttempt::Result::kOtherException;
    attempt.message = error.what();
  }
  attempt.largest_allocation_bytes = g_largest_allocation_bytes;
  attempt.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return attempt;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool contains_any(const std::string& message, const std::vector<std::string>& words) {
  const std::string haystack = lower(message);
  return std::any_of(words.begin(), words.end(), [&](const std::string& word) {
    return haystack.find(lower(word)) != std::string::npos;
  });
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "\"" : " | \"") + word + "\"";
  return text;
}

// A damaged (or missing) model file and what its error message must say.
struct ErrorCase {
  std::string name;
  std::function<fs::path(const fs::path& dir)> make;  // writes the file, returns the path to load
  std::vector<std::string> words;                     // the message contains at least one of these
  std::string tensor;                                 // when set, the message must name this tensor
};

// The path of the case's file inside dir.
fs::path case_file(const fs::path& dir) {
  return dir / "damaged-model.bin";
}

const std::vector<ErrorCase>& error_cases() {
  const std::vector<std::string> kTruncated{"truncated"};
  static const std::vector<ErrorCase> cases = {
      // The file itself.
      {"nonexistent path",
       [](const fs::path& dir) { return dir / "no-such-model.bin"; },
       {"cannot open", "no such file", "not found", "does not exist"},
       ""},
      {"directory instead of a file",
       [](const fs::path& dir) {
         fs::create_directory(case_file(dir));
         return case_file(dir);
       },
       {"regular file", "directory"},
       ""},
      {"empty file",
       [](const fs::path& dir) {
         std::ofstream(case_file(dir), std::ios::binary);
         return case_file(dir);
       },
       {"empty", "truncated"},
       ""},
      {"two-byte file",
       [](const fs::path& dir) {
         std::ofstream(case_file(dir), std::ios::binary) << "lm";
         return case_file(dir);
       },
       {"magic", "truncated"},
       ""},
      {"wrong magic (a GGUF file)",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         patch_bytes(case_file(dir), 0, "GGUF", 4);
         return case_file(dir);
       },
       {"magic"},
       ""},
      {"byte-swapped magic",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         patch_bytes(case_file(dir), 0, "ggml", 4);
         return case_file(dir);
       },
       {"magic"},
       ""},

      // Truncation at every section.
      {"header truncated",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         fs::resize_file(case_file(dir), 30);
         return case_file(dir);
       },
       kTruncated, ""},
      {"mel filters truncated",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         fs::resize_file(case_file(dir), sizeof(ModelHeader) + 8 + 1000);
         return case_file(dir);
       },
       kTruncated, ""},
      {"vocabulary truncated",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         fs::resize_file(case_file(dir),
                         npuscribe::test::vocabulary_offset(official_shape("tiny.en")) + 4 + 5000);
         return case_file(dir);
       },
       kTruncated, ""},
      {"tensor record truncated in its name",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         const RawModel raw = read_raw_model(case_file(dir));
         fs::resize_file(case_file(dir), raw.tensors.at("decoder.ln.bias").data_offset - 3);
         return case_file(dir);
       },
       kTruncated, ""},
      {"tensor data truncated",
       [](const fs::path& dir) {
         WriteOptions options;  // real random data this time, not holes
         write_tiny(case_file(dir), options);
         fs::resize_file(case_file(dir), fs::file_size(case_file(dir)) - 1000);
         return case_file(dir);
       },
       kTruncated, "decoder.ln.bias"},
      {"trailing bytes after the last tensor",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         std::ofstream(case_file(dir), std::ios::binary | std::ios::app).write("\1\0\0\0\0\0", 6);
         return case_file(dir);
       },
       {"truncated", "damaged"},
       ""},

      // Mel filters and vocabulary fields.
      {"mel filter bank of the wrong size",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         patch_i32(case_file(dir), sizeof(ModelHeader) + 4, 200);
         return case_file(dir);
       },
       {"mel"},
       ""},
      {"vocabulary count 2^30",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         patch_i32(case_file(dir), npuscribe::test::vocabulary_offset(official_shape("tiny.en")), 1 << 30);
         return case_file(dir);
       },
       {"vocabulary"},
       ""},
      {"negative vocabulary count",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         patch_i32(case_file(dir), npuscribe::test::vocabulary_offset(official_shape("tiny.en")), -1);
         return case_file(dir);
       },
       {"vocabulary"},
       ""},
      {"vocabulary entry of 2^31-1 bytes",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         patch_i32(case_file(dir), npuscribe::test::vocabulary_offset(official_shape("tiny.en")) + 4,
                   0x7fffffff);
         return case_file(dir);
       },
       {"vocabulary", "truncated"},
       ""},

      // Tensor records.
      {"unknown tensor type id 99",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir), edit_tensor("encoder.blocks.0.attn.query.weight",
                                                       [](auto&, std::int32_t& type) { type = 99; }));
       },
       {"type"},
       "encoder.blocks.0.attn.query.weight"},
      {"missing tensor",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir), drop_tensor("encoder.blocks.1.attn.key.weight"));
       },
       {"missing"},
       "encoder.blocks.1.attn.key.weight"},
      {"missing last tensor",
       [](const fs::path& dir) { return write_tiny(case_file(dir), drop_tensor("decoder.ln.bias")); },
       {"missing"},
       "decoder.ln.bias"},
      {"mis-shaped tensor",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir),
                           edit_tensor("encoder.blocks.1.mlp.0.weight", [](auto& ne, std::int32_t&) {
                             ne = {384, 1535};
                           }));
       },
       {"shape"},
       "encoder.blocks.1.mlp.0.weight"},
      {"transposed matrix",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir),
                           edit_tensor("decoder.blocks.2.mlp.2.weight", [](auto& ne, std::int32_t&) {
                             ne = {384, 1536};
                           }));
       },
       {"shape"},
       "decoder.blocks.2.mlp.2.weight"},
      {"conv kernel of the wrong rank",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir), edit_tensor("encoder.conv1.weight", [](auto& ne, std::int32_t&) {
                             ne = {240, 384};
                           }));
       },
       {"shape"},
       "encoder.conv1.weight"},
      {"token embedding for a different vocabulary",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir),
                           edit_tensor("decoder.token_embedding.weight", [](auto& ne, std::int32_t&) {
                             ne = {384, 51865};
                           }));
       },
       {"shape"},
       "decoder.token_embedding.weight"},
      {"negative dimension",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir), edit_tensor("encoder.conv2.bias", [](auto& ne, std::int32_t&) {
                             ne = {1, -384};
                           }));
       },
       {"dimension", "shape"},
       ""},
      {"dimensions whose product overflows 64 bits",
       [](const fs::path& dir) {
         // 2^24 * 2^24 * 2^16 = 2^64 elements; the writer stores no data for it.
         return write_tiny(case_file(dir), edit_tensor("encoder.conv2.weight", [](auto& ne, std::int32_t&) {
                             ne = {1 << 24, 1 << 24, 1 << 16};
                           }));
       },
       {"shape", "dimension", "size", "damaged", "truncated"},
       ""},
      {"five dimensions",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir), edit_tensor("encoder.conv2.weight", [](auto& ne, std::int32_t&) {
                             ne = {3, 384, 384, 1, 1};
                           }));
       },
       {"dims", "dimension", "damaged"},
       ""},
      {"tensor name length 2^31-1",
       [](const fs::path& dir) {
         write_tiny(case_file(dir));
         const RawModel raw = read_raw_model(case_file(dir));
         patch_i32(case_file(dir), raw.tensors.at("encoder.blocks.2.attn.out.bias").record_offset + 4,
                   0x7fffffff);
         return case_file(dir);
       },
       {"name", "damaged", "truncated"},
       ""},
      {"duplicated tensor",
       [](const fs::path& dir) {
         WriteOptions options = sparse_options();
         options.duplicate_record = "encoder.blocks.0.attn_ln.weight";
         return write_tiny(case_file(dir), options);
       },
       {"twice", "duplicate"},
       "encoder.blocks.0.attn_ln.weight"},
      {"unexpected extra tensor",
       [](const fs::path& dir) {
         WriteOptions options = sparse_options();
         options.duplicate_record = "decoder.ln.bias";
         auto copies = std::make_shared<int>(0);
         options.edit_record = [copies](std::string& name, auto&, std::int32_t&) {
           if (name == "decoder.ln.bias" && ++*copies == 2) name = "decoder.ln.scale";
         };
         return write_tiny(case_file(dir), options);
       },
       {"unexpected", "unknown"},
       "decoder.ln.scale"},
      {"more decoder layers than the header says",
       [](const fs::path& dir) {
         ModelShape shape = official_shape("tiny.en");
         shape.n_text_layer = 5;
         write_random_model(case_file(dir), shape, edit_header_field(kTextLayer, 4));
         return case_file(dir);
       },
       {"unexpected", "unknown"},
       "decoder.blocks.4."},
      {"fewer encoder layers than the header says",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kAudioLayer, 5)); },
       {"missing"},
       "encoder.blocks.4."},
      {"layer-norm vector stored as q8_0",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir), edit_tensor("encoder.ln_post.weight",
                                                       [](auto&, std::int32_t& type) { type = 8; }));
       },
       {"type", "q8_0"},
       "encoder.ln_post.weight"},
      {"q8_0 row that is not whole blocks",
       [](const fs::path& dir) {
         // conv1's rows are 3 elements; the writer keeps f16-sized data for them.
         return write_tiny(case_file(dir),
                           edit_tensor("encoder.conv1.weight", [](auto&, std::int32_t& type) { type = 8; }));
       },
       {"multiple", "type", "q8_0"},
       "encoder.conv1.weight"},

      // Hyper-parameters: the message names the field.
      {"n_vocab 2^30",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kVocab, 1 << 30)); },
       {"n_vocab"},
       ""},
      {"negative n_vocab",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kVocab, -5)); },
       {"n_vocab"},
       ""},
      {"n_audio_state not divisible by n_audio_head",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kAudioHead, 7)); },
       {"n_audio_state", "n_audio_head"},
       ""},
      {"zero n_audio_head",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kAudioHead, 0)); },
       {"n_audio_head"},
       ""},
      {"zero n_text_head",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kTextHead, 0)); },
       {"n_text_head"},
       ""},
      {"n_audio_state 2^30",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir), edit_header_field(kAudioState, 1 << 30));
       },
       {"n_audio_state"},
       ""},
      {"n_text_state differs from n_audio_state",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kTextState, 768)); },
       {"n_text_state", "n_audio_state"},
       ""},
      {"n_mels 7",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kMels, 7)); },
       {"n_mels"},
       ""},
      {"negative n_audio_layer",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kAudioLayer, -1)); },
       {"n_audio_layer"},
       ""},
      {"negative n_text_layer",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kTextLayer, -3)); },
       {"n_text_layer"},
       ""},
      {"n_audio_ctx 10^9",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir), edit_header_field(kAudioCtx, 1000000000));
       },
       {"n_audio_ctx"},
       ""},
      {"n_text_ctx 2^31-1",
       [](const fs::path& dir) {
         return write_tiny(case_file(dir), edit_header_field(kTextCtx, 0x7fffffff));
       },
       {"n_text_ctx"},
       ""},
      {"negative ftype",
       [](const fs::path& dir) { return write_tiny(case_file(dir), edit_header_field(kFtype, -1)); },
       {"ftype"},
       ""},
  };
  return cases;
}

// Expected official shapes, written out here rather than taken from the writer so that both are checked.
struct ExpectedShape {
  const char* name;
  int width;
  int heads;
  int encoder_layers;
  int decoder_layers;
  int n_vocab;
  int n_mels;
  const char* size_name;
};

constexpr ExpectedShape kOfficialShapes[] = {
    {"tiny", 384, 6, 4, 4, 51865, 80, "tiny"},
    {"tiny.en", 384, 6, 4, 4, 51864, 80, "tiny.en"},
    {"base", 512, 8, 6, 6, 51865, 80, "base"},
    {"base.en", 512, 8, 6, 6, 51864, 80, "base.en"},
    {"small", 768, 12, 12, 12, 51865, 80, "small"},
    {"small.en", 768, 12, 12, 12, 51864, 80, "small.en"},
    {"medium", 1024, 16, 24, 24, 51865, 80, "medium"},
    {"medium.en", 1024, 16, 24, 24, 51864, 80, "medium.en"},
    {"large-v1", 1280, 20, 32, 32, 51865, 80, "large"},
    {"large-v2", 1280, 20, 32, 32, 51865, 80, "large"},
    {"large-v3", 1280, 20, 32, 32, 51866, 128, "large-v3"},
    {"large-v3-turbo", 1280, 20, 32, 4, 51866, 128, "large-v3-turbo"},
};

int expected_tensor_count(int encoder_layers, int decoder_layers) {
  // encoder: positional + 4 conv + 15 per block + 2 ln_post; decoder: 2 embeddings + 24 per block + 2 ln.
  return 1 + 4 + 15 * encoder_layers + 2 + 2 + 24 * decoder_layers + 2;
}

}  // namespace

class TestModelLoader : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void cleanupTestCase();
  void writerKnowsTheOfficialShapes();
  void officialShapesLoad_data();
  void officialShapesLoad();
  void fixtureLoads();
  void fixtureValuesMatchFileBytes();
  void writerMatchesFixtureLayoutAndStatistics();
  void writerIsDeterministic();
  void writerQ8ModelMatchesQuantizerLayout();
  void damagedFilesAreRejected_data();
  void damagedFilesAreRejected();
  void fileParserRejectsOverflowingShape();
  void quantisedModelsLoadOrAreRejected_data();
  void quantisedModelsLoadOrAreRejected();
  void quantisedFixturesParse_data();
  void quantisedFixturesParse();

 private:
  std::unique_ptr<npuscribe::test::TempDir> temp_;
};

void TestModelLoader::initTestCase() {
  temp_ = std::make_unique<npuscribe::test::TempDir>();
}

void TestModelLoader::cleanupTestCase() {
  temp_.reset();
}

void TestModelLoader::writerKnowsTheOfficialShapes() {
  const std::vector<std::string> names = npuscribe::test::official_shape_names();
  QCOMPARE(names.size(), std::size(kOfficialShapes));
  for (const ExpectedShape& expected : kOfficialShapes) {
    QVERIFY(std::find(names.begin(), names.end(), expected.name) != names.end());
    const ModelShape shape = official_shape(expected.name);
    QCOMPARE(shape.name, std::string(expected.name));
    QCOMPARE(shape.n_audio_ctx, 1500);
    QCOMPARE(shape.n_text_ctx, 448);
  }
  for (const char* bad : {"", "large", "large-v4", "TINY", "tiny.en ", "distil-large-v3"}) {
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, official_shape(bad));
  }
}

void TestModelLoader::officialShapesLoad_data() {
  QTest::addColumn<int>("shape_index");
  for (int i = 0; i < static_cast<int>(std::size(kOfficialShapes)); ++i)
    QTest::addRow("%s", kOfficialShapes[i].name) << i;
}

void TestModelLoader::officialShapesLoad() {
  QFETCH(int, shape_index);
  const ExpectedShape& expected = kOfficialShapes[shape_index];
  const int d = expected.width;
  const fs::path path = temp_->file(std::string(expected.name) + ".bin");

  const auto write_start = std::chrono::steady_clock::now();
  write_random_model(path, official_shape(expected.name), sparse_options());
  const double write_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - write_start).count();
  QVERIFY2(write_seconds < 5.0, qPrintable(QString("sparse write took %1 s").arg(write_seconds)));

  const LoadAttempt attempt = attempt_load(path);
  QVERIFY2(attempt.result == LoadAttempt::Result::kLoaded, attempt.message.c_str());
  const WhisperModel& model = *attempt.model;

  const npuscribe::WhisperHparams& h = model.hparams();
  QCOMPARE(h.n_vocab, expected.n_vocab);
  QCOMPARE(h.n_audio_ctx, 1500);
  QCOMPARE(h.n_audio_state, d);
  QCOMPARE(h.n_audio_head, expected.heads);
  QCOMPARE(h.n_audio_layer, expected.encoder_layers);
  QCOMPARE(h.n_text_ctx, 448);
  QCOMPARE(h.n_text_state, d);
  QCOMPARE(h.n_text_head, expected.heads);
  QCOMPARE(h.n_text_layer, expected.decoder_layers);
  QCOMPARE(h.n_mels, expected.n_mels);
  QCOMPARE(h.ftype, 1);
  QCOMPARE(h.size_name(), std::string(expected.size_name));
  const bool multilingual = !std::string(expected.name).ends_with(".en");
  QCOMPARE(h.is_multilingual(), multilingual);
  if (multilingual) QCOMPARE(h.language_count(), expected.n_vocab == 51866 ? 100 : 99);

  QCOMPARE(model.file().tensors().size(),
           static_cast<std::size_t>(expected_tensor_count(expected.encoder_layers, expected.decoder_layers)));
  QCOMPARE(model.file().size_bytes(), static_cast<std::uint64_t>(fs::file_size(path)));
  QCOMPARE(model.vocabulary().size(), static_cast<std::size_t>(kStoredTokens));
  QCOMPARE(model.mel_filters().n_mels, expected.n_mels);
  QCOMPARE(model.mel_filters().n_fft_bins, 201);
  QCOMPARE(model.mel_filters().weights.size(), static_cast<std::size_t>(expected.n_mels) * 201);

  const npuscribe::EncoderWeights& encoder = model.encoder();
  QCOMPARE(encoder.blocks.size(), static_cast<std::size_t>(expected.encoder_layers));
  QCOMPARE(encoder.conv1.rows, d);
  QCOMPARE(encoder.conv1.cols, 3 * expected.n_mels);
  QCOMPARE(encoder.conv2.rows, d);
  QCOMPARE(encoder.conv2.cols, 3 * d);
  QCOMPARE(encoder.conv1_bias.size(), static_cast<std::size_t>(d));
  QCOMPARE(encoder.positional_embedding.size(), static_cast<std::size_t>(1500) * d);
  const npuscribe::MlpWeights& encoder_mlp = encoder.blocks.back().mlp;
  QCOMPARE(encoder_mlp.up.rows, 4 * d);
  QCOMPARE(encoder_mlp.up.cols, d);
  QCOMPARE(encoder_mlp.up.type, GgmlType::f16);
  QCOMPARE(encoder_mlp.up.row_bytes(), static_cast<std::size_t>(2 * d));
  QCOMPARE(encoder_mlp.up_bias.size(), static_cast<std::size_t>(4 * d));
  QCOMPARE(encoder_mlp.down.rows, d);
  QCOMPARE(encoder_mlp.down.cols, 4 * d);
  QCOMPARE(encoder.blocks.back().attn.key.rows, d);
  QCOMPARE(encoder.ln_post.gamma.size(), static_cast<std::size_t>(d));

  const npuscribe::DecoderWeights& decoder = model.decoder();
  QCOMPARE(decoder.blocks.size(), static_cast<std::size_t>(expected.decoder_layers));
  QCOMPARE(decoder.token_embedding.rows, expected.n_vocab);
  QCOMPARE(decoder.token_embedding.cols, d);
  QCOMPARE(decoder.positional_embedding.size(), static_cast<std::size_t>(448) * d);
  QCOMPARE(decoder.blocks.back().cross_attn.value.rows, d);
  QCOMPARE(decoder.blocks.back().cross_attn.value.cols, d);
  QCOMPARE(decoder.blocks.back().mlp.down.cols, 4 * d);
  QCOMPARE(decoder.ln.beta.size(), static_cast<std::size_t>(d));

  QVERIFY2(attempt.seconds < 10.0, qPrintable(QString("load took %1 s").arg(attempt.seconds)));
  // The allocation tracker sees the loader's own allocations (the copied positional embedding), so the
  // bound the damaged-file cases put on it means something.
  QVERIFY2(attempt.largest_allocation_bytes >= static_cast<std::size_t>(1500) * d * sizeof(float),
           qPrintable(QString("largest allocation %1 bytes").arg(attempt.largest_allocation_bytes)));
  fs::remove(path);
}

void TestModelLoader::fixtureLoads() {
  const fs::path path = npuscribe::test::fixture("ggml-tiny.en-random.bin");
  QVERIFY2(fs::exists(path), qPrintable("missing fixture " + QString::fromStdString(path.string())));
  const LoadAttempt attempt = attempt_load(path);
  QVERIFY2(attempt.result == LoadAttempt::Result::kLoaded, attempt.message.c_str());
  const WhisperModel& model = *attempt.model;

  const npuscribe::WhisperHparams& h = model.hparams();
  QCOMPARE(h.n_vocab, 51864);
  QCOMPARE(h.n_audio_ctx, 1500);
  QCOMPARE(h.n_audio_state, 384);
  QCOMPARE(h.n_audio_head, 6);
  QCOMPARE(h.n_audio_layer, 4);
  QCOMPARE(h.n_text_ctx, 448);
  QCOMPARE(h.n_text_state, 384);
  QCOMPARE(h.n_text_head, 6);
  QCOMPARE(h.n_text_layer, 4);
  QCOMPARE(h.n_mels, 80);
  QCOMPARE(h.ftype, 1);
  QVERIFY(!h.is_multilingual());
  QCOMPARE(h.size_name(), std::string("tiny.en"));

  QCOMPARE(model.file().size_bytes(), kFixtureBytes);
  QCOMPARE(model.file().tensors().size(), static_cast<std::size_t>(kFixtureTensorCount));
  QCOMPARE(model.vocabulary().size(), static_cast<std::size_t>(kStoredTokens));
  QCOMPARE(model.vocabulary()[220], std::string(" "));
  QCOMPARE(model.vocabulary()[843], std::string(" And"));  // README: forced token 843 is " And"
  QCOMPARE(model.vocabulary()[50256], std::string("<|endoftext|>"));
  QCOMPARE(model.mel_filters().n_mels, 80);
  QCOMPARE(model.mel_filters().n_fft_bins, 201);
  QCOMPARE(model.encoder().blocks.size(), std::size_t{4});
  QCOMPARE(model.decoder().blocks.size(), std::size_t{4});
  QCOMPARE(model.decoder().token_embedding.rows, 51864);
  QCOMPARE(model.decoder().token_embedding.type, GgmlType::f16);
  QCOMPARE(model.encoder().conv1.type, GgmlType::f16);
  QVERIFY(model.file().find("decoder.ln.bias") != nullptr);
  QVERIFY(model.file().find("decoder.ln.gain") == nullptr);
}

void TestModelLoader::fixtureValuesMatchFileBytes() {
  const fs::path path = npuscribe::test::fixture("ggml-tiny.en-random.bin");
  QVERIFY2(fs::exists(path), qPrintable("missing fixture " + QString::fromStdString(path.string())));
  const RawModel raw = read_raw_model(path);
  QCOMPARE(raw.names.size(), static_cast<std::size_t>(kFixtureTensorCount));
  QCOMPARE(raw.end_offset, kFixtureBytes);
  QCOMPARE(raw.tensors.at("encoder.positional_embedding").data_offset, kFixtureFirstDataOffset);

  const std::shared_ptr<const WhisperModel> model = WhisperModel::load(path);
  const GgmlModelFile& file = model->file();
  const npuscribe::WhisperHparams& h = file.hparams();
  const ModelHeader loaded{static_cast<std::int32_t>(npuscribe::kGgmlMagic),
                           h.n_vocab,
                           h.n_audio_ctx,
                           h.n_audio_state,
                           h.n_audio_head,
                           h.n_audio_layer,
                           h.n_text_ctx,
                           h.n_text_state,
                           h.n_text_head,
                           h.n_text_layer,
                           h.n_mels,
                           h.ftype};
  QVERIFY(loaded == raw.header);
  QVERIFY(model->vocabulary() == raw.tokens);

  // Every record: same offsets, sizes, types and shapes as the independent reader, and a data pointer at the
  // right place in the mapping.
  const npuscribe::TensorRecord* first = file.find(raw.names.front());
  QVERIFY(first != nullptr);
  for (const std::string& name : raw.names) {
    const RawTensor& expected = raw.tensors.at(name);
    const npuscribe::TensorRecord* record = file.find(name);
    QVERIFY2(record != nullptr, name.c_str());
    QCOMPARE(record->name, name);
    QCOMPARE(record->data_offset, expected.data_offset);
    QCOMPARE(record->data_bytes, expected.data_bytes);
    QCOMPARE(static_cast<std::int32_t>(record->type), expected.type);
    QCOMPARE(record->n_dims, static_cast<int>(expected.ne.size()));
    for (std::size_t i = 0; i < expected.ne.size(); ++i) QCOMPARE(record->ne[i], expected.ne[i]);
    QCOMPARE(record->data - first->data,
             static_cast<std::ptrdiff_t>(expected.data_offset - kFixtureFirstDataOffset));
  }

  // Mel filters: [mel][bin] float32 right after the header and the two dims.
  const std::vector<float>& filters = model->mel_filters().weights;
  for (const std::size_t index : {std::size_t{0}, std::size_t{5 * 201 + 17}, filters.size() - 1})
    QCOMPARE(bytes_of(&filters[index], 4), file_bytes(path, sizeof(ModelHeader) + 8 + 4 * index, 4));

  // float32 vectors the loader copied out, against the file bytes at the tensor's offset.
  struct VectorProbe {
    const char* tensor;
    const std::vector<float>* values;
    std::size_t index;
  };
  const npuscribe::EncoderWeights& encoder = model->encoder();
  const npuscribe::DecoderWeights& decoder = model->decoder();
  const VectorProbe vectors[] = {
      {"encoder.positional_embedding", &encoder.positional_embedding, 5 * 384 + 7},
      {"encoder.positional_embedding", &encoder.positional_embedding, 1500 * 384 - 1},
      {"encoder.conv1.bias", &encoder.conv1_bias, 100},
      {"encoder.conv2.bias", &encoder.conv2_bias, 383},
      {"encoder.blocks.1.mlp.0.bias", &encoder.blocks[1].mlp.up_bias, 1535},
      {"encoder.blocks.3.attn_ln.weight", &encoder.blocks[3].attn_ln.gamma, 9},
      {"encoder.ln_post.bias", &encoder.ln_post.beta, 0},
      {"decoder.positional_embedding", &decoder.positional_embedding, 447 * 384 + 383},
      {"decoder.blocks.2.mlp_ln.weight", &decoder.blocks[2].mlp_ln.gamma, 17},
      {"decoder.blocks.3.cross_attn.value.bias", &decoder.blocks[3].cross_attn.value_bias, 200},
      {"decoder.blocks.0.attn.out.bias", &decoder.blocks[0].attn.out_bias, 1},
      {"decoder.ln.bias", &decoder.ln.beta, 383},
  };
  for (const VectorProbe& probe : vectors) {
    const RawTensor& tensor = raw.tensors.at(probe.tensor);
    QCOMPARE(tensor.type, 0);
    QVERIFY2(probe.index < probe.values->size(), probe.tensor);
    QCOMPARE(bytes_of(&(*probe.values)[probe.index], 4),
             file_bytes(path, tensor.data_offset + 4 * probe.index, 4));
  }

  // f16 matrices stay in the mapping: [row][col] through row_bytes() equals the file's f16 at
  // (row * ne[0]-fastest columns + col).
  struct MatrixProbe {
    const char* tensor;
    const WeightMatrix* matrix;
    int rows, cols, row, col;
  };
  const MatrixProbe matrices[] = {
      {"encoder.blocks.0.attn.query.weight", &encoder.blocks[0].attn.query, 384, 384, 3, 5},
      {"encoder.blocks.3.mlp.2.weight", &encoder.blocks[3].mlp.down, 384, 1536, 383, 1535},
      {"encoder.blocks.2.mlp.0.weight", &encoder.blocks[2].mlp.up, 1536, 384, 1000, 7},
      {"encoder.conv1.weight", &encoder.conv1, 384, 240, 10, 2 * 3 + 1},  // out 10, in 2, k 1
      {"encoder.conv2.weight", &encoder.conv2, 384, 1152, 383, 1151},
      {"decoder.token_embedding.weight", &decoder.token_embedding, 51864, 384, 51863, 383},
      {"decoder.blocks.1.cross_attn.key.weight", &decoder.blocks[1].cross_attn.key, 384, 384, 0, 0},
      {"decoder.blocks.3.attn.value.weight", &decoder.blocks[3].attn.value, 384, 384, 200, 100},
  };
  for (const MatrixProbe& probe : matrices) {
    const RawTensor& tensor = raw.tensors.at(probe.tensor);
    const WeightMatrix& matrix = *probe.matrix;
    QCOMPARE(tensor.type, 1);
    QCOMPARE(matrix.type, GgmlType::f16);
    QCOMPARE(matrix.rows, probe.rows);
    QCOMPARE(matrix.cols, probe.cols);
    QCOMPARE(matrix.row_bytes(), static_cast<std::size_t>(probe.cols) * 2);
    QVERIFY(matrix.data == file.find(probe.tensor)->data);
    const std::uint64_t element = static_cast<std::uint64_t>(probe.row) * probe.cols + probe.col;
    const QByteArray expected = file_bytes(path, tensor.data_offset + 2 * element, 2);
    QCOMPARE(matrix_element(matrix, probe.row, probe.col), expected);
    std::uint16_t half;
    std::memcpy(&half, expected.constData(), 2);
    QVERIFY(std::isfinite(npuscribe::f16_to_f32(half)));
  }

  // The sinusoids are exact: row 0 is [0...0, 1...1], and sin^2 + cos^2 = 1 everywhere.
  QCOMPARE(encoder.positional_embedding[0], 0.0f);
  QCOMPARE(encoder.positional_embedding[192], 1.0f);
  const float s = encoder.positional_embedding[700 * 384 + 10],
              c = encoder.positional_embedding[700 * 384 + 202];
  QVERIFY(std::abs(s * s + c * c - 1.0f) < 1e-6f);
}

void TestModelLoader::writerMatchesFixtureLayoutAndStatistics() {
  const fs::path fixture_path = npuscribe::test::fixture("ggml-tiny.en-random.bin");
  QVERIFY2(fs::exists(fixture_path), "missing fixture ggml-tiny.en-random.bin");
  const RawModel fixture = read_raw_model(fixture_path);

  WriteOptions options;
  options.matrix_type = GgmlType::f32;
  options.seed = 7;
  const fs::path path = temp_->file("tiny.en-f32.bin");
  write_random_model(path, official_shape("tiny.en"), options);

  // Same records in the same order as whisper.cpp's converter wrote them; every one f32 here.
  const RawModel raw = read_raw_model(path);
  QCOMPARE(raw.end_offset, static_cast<std::uint64_t>(fs::file_size(path)));
  QCOMPARE(raw.header[kFtype], 0);
  QVERIFY(raw.names == fixture.names);
  for (const std::string& name : raw.names) {
    QVERIFY2(raw.tensors.at(name).ne == fixture.tensors.at(name).ne, name.c_str());
    QCOMPARE(raw.tensors.at(name).type, 0);
  }
  QCOMPARE(raw.tokens.size(), static_cast<std::size_t>(kStoredTokens));
  QCOMPARE(raw.tokens[65], std::string("A"));
  QCOMPARE(raw.tokens[50256], std::string("<|endoftext|>"));

  const std::shared_ptr<const WhisperModel> model = WhisperModel::load(path);
  const std::shared_ptr<const WhisperModel> reference = WhisperModel::load(fixture_path);
  QCOMPARE(model->hparams().ftype, 0);
  QCOMPARE(model->encoder().blocks[0].attn.query.type, GgmlType::f32);
  QCOMPARE(model->encoder().blocks[0].attn.query.row_bytes(), std::size_t{384 * 4});

  // The writer's sinusoids are the fixture's to float rounding.
  const std::vector<float>& sinusoids = model->encoder().positional_embedding;
  const std::vector<float>& reference_sinusoids = reference->encoder().positional_embedding;
  QCOMPARE(sinusoids.size(), reference_sinusoids.size());
  const npuscribe::test::Difference difference = npuscribe::test::compare(sinusoids, reference_sinusoids);
  QVERIFY2(difference.max_abs < 1e-6, qPrintable(QString("max abs %1").arg(difference.max_abs)));

  // The mel filters are plausible triangles: non-negative, every filter non-empty.
  const npuscribe::MelFilterBank& filters = model->mel_filters();
  for (int mel = 0; mel < filters.n_mels; ++mel) {
    const auto row = filters.weights.begin() + mel * filters.n_fft_bins;
    QVERIFY(std::all_of(row, row + filters.n_fft_bins, [](float w) { return w >= 0.0f; }));
    QVERIFY(*std::max_element(row, row + filters.n_fft_bins) > 0.0f);
  }

  // Scales: matrices 1/sqrt(fan_in), token embedding 0.05, LN weights 1 + 0.1 N, biases 0.02 N.
  const double query_std = std_dev(matrix_values(model->encoder().blocks[0].attn.query));
  QVERIFY2(std::abs(query_std * std::sqrt(384.0) - 1.0) < 0.02, qPrintable(QString::number(query_std)));
  const double conv1_std = std_dev(matrix_values(model->encoder().conv1));
  QVERIFY2(std::abs(conv1_std * std::sqrt(240.0) - 1.0) < 0.02, qPrintable(QString::number(conv1_std)));
  const double down_std = std_dev(matrix_values(model->decoder().blocks[3].mlp.down));
  QVERIFY2(std::abs(down_std * std::sqrt(1536.0) - 1.0) < 0.02, qPrintable(QString::number(down_std)));
  const double embedding_std = std_dev(matrix_values(model->decoder().token_embedding));
  QVERIFY2(std::abs(embedding_std - 0.05) < 0.001, qPrintable(QString::number(embedding_std)));
  QVERIFY(std::abs(std_dev(model->decoder().positional_embedding) - 1.0) < 0.02);
  std::vector<float> ln_gammas, biases;
  for (const auto& block : model->decoder().blocks) {
    ln_gammas.insert(ln_gammas.end(), block.mlp_ln.gamma.begin(), block.mlp_ln.gamma.end());
    biases.insert(biases.end(), block.mlp.up_bias.begin(), block.mlp.up_bias.end());
  }
  QVERIFY2(std::abs(mean_of(ln_gammas) - 1.0) < 0.02, qPrintable(QString::number(mean_of(ln_gammas))));
  QVERIFY2(std::abs(std_dev(ln_gammas) - 0.1) < 0.01, qPrintable(QString::number(std_dev(ln_gammas))));
  QVERIFY2(std::abs(std_dev(biases) - 0.02) < 0.002, qPrintable(QString::number(std_dev(biases))));
  fs::remove(path);
}

void TestModelLoader::writerIsDeterministic() {
  const fs::path first = temp_->file("mini-seed5-a.bin"), second = temp_->file("mini-seed5-b.bin"),
                 other = temp_->file("mini-seed6.bin");
  WriteOptions options;
  options.seed = 5;
  write_random_model(first, mini_shape(), options);
  write_random_model(second, mini_shape(), options);
  options.seed = 6;
  write_random_model(other, mini_shape(), options);
  QVERIFY(same_file_contents(first, second));
  QCOMPARE(fs::file_size(other), fs::file_size(first));
  QVERIFY(!same_file_contents(first, other));

  // A custom (non-official) shape loads too, with its own hyper-parameters.
  const LoadAttempt attempt = attempt_load(first);
  QVERIFY2(attempt.result == LoadAttempt::Result::kLoaded, attempt.message.c_str());
  QCOMPARE(attempt.model->hparams().n_audio_state, 64);
  QCOMPARE(attempt.model->hparams().size_name(), std::string("custom"));
  QCOMPARE(attempt.model->encoder().blocks.size(), std::size_t{1});
  QCOMPARE(attempt.model->decoder().blocks[0].mlp.up.rows, 256);
}

void TestModelLoader::writerQ8ModelMatchesQuantizerLayout() {
  WriteOptions options;
  options.matrix_type = GgmlType::q8_0;
  const fs::path path = temp_->file("tiny.en-q8_0.bin");
  write_random_model(path, official_shape("tiny.en"), options);
  const RawModel raw = read_raw_model(path);
  QCOMPARE(raw.end_offset, static_cast<std::uint64_t>(fs::file_size(path)));
  QCOMPARE(raw.header[kFtype], 2007);
  // README: tiny.en quantised by whisper-quantize has 65 q8_0, 2 f16 (the conv kernels) and 100 f32 tensors.
  std::map<std::int32_t, int> type_counts;
  for (const auto& [name, tensor] : raw.tensors) ++type_counts[tensor.type];
  QCOMPARE(type_counts[8], 65);
  QCOMPARE(type_counts[1], 2);
  QCOMPARE(type_counts[0], 100);
  QCOMPARE(raw.tensors.at("encoder.conv2.weight").type, 1);
  QCOMPARE(raw.tensors.at("decoder.positional_embedding").type, 0);
  QCOMPARE(raw.tensors.at("decoder.token_embedding.weight").type, 8);

  // Each block: positive f16 scale, and the largest magnitude maps to +-127.
  const RawTensor& query = raw.tensors.at("encoder.blocks.0.attn.query.weight");
  QCOMPARE(query.data_bytes, std::uint64_t{384 * 384 / 32 * 34});
  for (const std::uint64_t block : {0u, 1u, 4607u}) {
    const QByteArray bytes = file_bytes(path, query.data_offset + 34 * block, 34);
    std::uint16_t half;
    std::memcpy(&half, bytes.constData(), 2);
    QVERIFY(npuscribe::f16_to_f32(half) > 0.0f);
    int max_magnitude = 0;
    for (int j = 2; j < 34; ++j)
      max_magnitude = std::max(max_magnitude, std::abs(static_cast<int>(static_cast<std::int8_t>(bytes[j]))));
    QCOMPARE(max_magnitude, 127);
  }
  fs::remove(path);
}

void TestModelLoader::damagedFilesAreRejected_data() {
  QTest::addColumn<int>("case_index");
  const std::vector<ErrorCase>& cases = error_cases();
  for (int i = 0; i < static_cast<int>(cases.size()); ++i) QTest::addRow("%s", cases[i].name.c_str()) << i;
}

void TestModelLoader::damagedFilesAreRejected() {
  QFETCH(int, case_index);
  const ErrorCase& error_case = error_cases()[static_cast<std::size_t>(case_index)];
  const fs::path dir = temp_->file("case-" + std::to_string(case_index));
  fs::create_directory(dir);
  const fs::path path = error_case.make(dir);

  const LoadAttempt attempt = attempt_load(path);
  fs::remove_all(dir);
  QVERIFY2(attempt.result != LoadAttempt::Result::kLoaded, "the damaged file loaded");
  QVERIFY2(attempt.result != LoadAttempt::Result::kBadAlloc, "std::bad_alloc: a size field was trusted");
  QVERIFY2(attempt.result == LoadAttempt::Result::kError,
           qPrintable("not npuscribe::Error: " + QString::fromStdString(attempt.message)));
  qInfo("%s", attempt.message.c_str());
  QVERIFY2(contains_any(attempt.message, error_case.words),
           qPrintable(
               QString::fromStdString("message lacks " + joined(error_case.words) + ": " + attempt.message)));
  QVERIFY2(attempt.message.find(path.filename().string()) != std::string::npos,
           qPrintable(QString::fromStdString("message does not name the file: " + attempt.message)));
  if (!error_case.tensor.empty()) {
    QVERIFY2(attempt.message.find(error_case.tensor) != std::string::npos,
             qPrintable(QString::fromStdString("message does not name " + error_case.tensor + ": " +
                                               attempt.message)));
  }
  QVERIFY2(attempt.seconds < kMaxErrorSeconds, qPrintable(QString("took %1 s").arg(attempt.seconds)));
  QVERIFY2(attempt.largest_allocation_bytes < kMaxAllocationBytes,
           qPrintable(QString("allocated %1 bytes at once").arg(attempt.largest_allocation_bytes)));
}

// GgmlModelFile promises bounds-checked parsing on its own (tools may list tensors without building a
// WhisperModel): a record claiming 2^64 elements with no data must not parse as a valid, empty tensor.
void TestModelLoader::fileParserRejectsOverflowingShape() {
  for (const std::vector<std::int64_t>& huge_ne :
       {std::vector<std::int64_t>{1 << 24, 1 << 24, 1 << 16},
        std::vector<std::int64_t>{1 << 24, 1 << 24, 1 << 24, 1 << 24}}) {
    const fs::path path = temp_->file("overflow.bin");
    write_tiny(path, edit_tensor("encoder.conv2.weight", [&](auto& ne, std::int32_t&) { ne = huge_ne; }));
    std::string outcome = "opened without error";
    try {
      const std::unique_ptr<GgmlModelFile> file = GgmlModelFile::open(path);
      const npuscribe::TensorRecord* record = file->find("encoder.conv2.weight");
      if (record)
        outcome += ": encoder.conv2.weight " + record->shape_string() + ", data_bytes " +
                   std::to_string(record->data_bytes);
    } catch (const npuscribe::Error&) {
      outcome.clear();
    } catch (const std::exception& error) {
      outcome = std::string("not npuscribe::Error: ") + error.what();
    }
    fs::remove(path);
    QVERIFY2(outcome.empty(), outcome.c_str());
  }
}

void TestModelLoader::quantisedModelsLoadOrAreRejected_data() {
  QTest::addColumn<QString>("source");
  QTest::addRow("one q8_0 matrix (writer)") << "writer-one";
  QTest::addRow("q8_0 model (writer)") << "writer-all";
  QTest::addRow("q8_0 fixture") << "ggml-tiny.en-random-q8_0.bin";
  QTest::addRow("q5_1 fixture") << "ggml-tiny.en-random-q5_1.bin";
}

// The loader may run quantised weights or refuse them with a clear message; it must never crash.
void TestModelLoader::quantisedModelsLoadOrAreRejected() {
  QFETCH(QString, source);
  fs::path path;
  if (source == "writer-one") {
    path = write_tiny(temp_->file("one-q8_0.bin"), edit_tensor("encoder.blocks.0.attn.query.weight",
                                                               [](auto&, std::int32_t& type) { type = 8; }));
  } else if (source == "writer-all") {
    WriteOptions options = sparse_options();
    options.matrix_type = GgmlType::q8_0;
    path = write_tiny(temp_->file("all-q8_0.bin"), options);
  } else {
    path = npuscribe::test::fixture(source.toStdString());
    QVERIFY2(fs::exists(path), qPrintable("missing fixture " + source));
  }

  const LoadAttempt attempt = attempt_load(path);
  QVERIFY2(attempt.result == LoadAttempt::Result::kLoaded || attempt.result == LoadAttempt::Result::kError,
           qPrintable("neither loaded nor npuscribe::Error: " + QString::fromStdString(attempt.message)));
  if (attempt.result == LoadAttempt::Result::kError) {
    qInfo("rejected: %s", attempt.message.c_str());
    QVERIFY(!attempt.message.empty());
  } else {
    // Loaded: the quantised matrix keeps its stored type and block layout.
    const WeightMatrix& query = attempt.model->encoder().blocks[0].attn.query;
    const npuscribe::TensorRecord* record = attempt.model->file().find("encoder.blocks.0.attn.query.weight");
    QCOMPARE(query.type, record->type);
    QVERIFY(query.data == record->data);
    QCOMPARE(static_cast<std::uint64_t>(query.row_bytes()) * query.rows, record->data_bytes);
  }
  if (source.startsWith("writer")) fs::remove(path);
}

void TestModelLoader::quantisedFixturesParse_data() {
  QTest::addColumn<QString>("file_name");
  QTest::addColumn<int>("type_id");
  QTest::addColumn<int>("block_bytes");
  QTest::addColumn<int>("ftype");
  QTest::addRow("q8_0") << "ggml-tiny.en-random-q8_0.bin" << 8 << 34 << 2007;
  QTest::addRow("q5_1") << "ggml-tiny.en-random-q5_1.bin" << 7 << 24 << 2009;
}

// The file-level parser knows every quantised layout, whatever WhisperModel then does with it.
void TestModelLoader::quantisedFixturesParse() {
  QFETCH(QString, file_name);
  QFETCH(int, type_id);
  QFETCH(int, block_bytes);
  QFETCH(int, ftype);
  const fs::path path = npuscribe::test::fixture(file_name.toStdString());
  QVERIFY2(fs::exists(path), qPrintable("missing fixture " + file_name));
  const RawModel raw = read_raw_model(path);
  QCOMPARE(raw.end_offset, static_cast<std::uint64_t>(fs::file_size(path)));

  std::unique_ptr<GgmlModelFile> file;
  try {
    file = GgmlModelFile::open(path);
  } catch (const std::exception& error) {
    QFAIL(error.what());
  }
  QCOMPARE(file->hparams().ftype, ftype);
  QCOMPARE(file->tensors().size(), static_cast<std::size_t>(kFixtureTensorCount));
  std::map<std::int32_t, int> type_counts;
  for (const auto& [name, record] : file->tensors()) {
    ++type_counts[static_cast<std::int32_t>(record.type)];
    const RawTensor& expected = raw.tensors.at(name);
    QCOMPARE(static_cast<std::int32_t>(record.type), expected.type);
    QCOMPARE(record.data_offset, expected.data_offset);
    QCOMPARE(record.data_bytes, expected.data_bytes);
  }
  QCOMPARE(type_counts[type_id], 65);
  QCOMPARE(type_counts[1], 2);
  QCOMPARE(type_counts[0], 100);
  QCOMPARE(file->find("encoder.positional_embedding")->data_offset, kFixtureFirstDataOffset);
  QCOMPARE(file->find("decoder.blocks.0.mlp.0.weight")->data_bytes,
           static_cast<std::uint64_t>(384 * 1536 / 32 * block_bytes));
  int block_elements = 0, layout_bytes = 0;
  QVERIFY(npuscribe::ggml_type_layout(type_id, &block_elements, &layout_bytes));
  QCOMPARE(block_elements, 32);
  QCOMPARE(layout_bytes, block_bytes);
  QVERIFY(!npuscribe::ggml_type_layout(99, &block_elements, &layout_bytes));
}

QTEST_GUILESS_MAIN(TestModelLoader)
#include "test_model_loader.moc"
