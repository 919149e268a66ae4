// Writes random-weight whisper.cpp ggml model files of any official Whisper shape, in the exact layout of
// /work/shared/fixtures/README.md (header, mel filters, vocabulary, tensor records in PyTorch state_dict
// order). Used to test the loader on every model size without downloading gigabytes of real weights, and to
// make corrupt files for the error paths.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "model/ggml_file.h"

namespace npuscribe::test {

struct ModelShape {
  std::string name;
  int n_vocab = 0;
  int n_audio_ctx = 1500;
  int n_audio_state = 0;
  int n_audio_head = 0;
  int n_audio_layer = 0;
  int n_text_ctx = 448;
  int n_text_state = 0;
  int n_text_head = 0;
  int n_text_layer = 0;
  int n_mels = 0;
};

// tiny, tiny.en, base, base.en, small, small.en, medium, medium.en, large-v1, large-v2, large-v3,
// large-v3-turbo. Throws std::invalid_argument for any other name.
ModelShape official_shape(std::string_view name);
std::vector<std::string> official_shape_names();

// The header as written: magic, n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
// n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype.
using ModelHeader = std::array<std::int32_t, 12>;

struct WriteOptions {
  // Type of the weight matrices: f32, f16 or q8_0 (q8_0 as whisper.cpp's quantizer does it: only 2-D tensors
  // outside the skip list, so the 3-D conv kernels stay f16). Conv kernels are f16 whenever this is f16/q8_0.
  GgmlType matrix_type = GgmlType::f16;
  std::uint64_t seed = 1;
  // Leave all tensor data as file holes (zeros), so huge shapes cost no disk space or time.
  bool sparse_data = false;
  int vocab_count = 50257;  // stored vocabulary entries (the header's n_vocab also counts unstored specials)

  // Called for every tensor record before it is written; lets tests corrupt a record. The data written
  // follows the edited ne and type (so the rest of the file stays parseable); for a type id the writer does
  // not know, the data keeps the original type's size. An empty name drops the record (a missing tensor).
  // ne values are stored as int32 (truncating). A record whose ne has a non-positive extent or whose element
  // count overflows gets no data at all.
  std::function<void(std::string& name, std::vector<std::int64_t>& ne, std::int32_t& type)> edit_record;
  // Called once on the 12 header values before they are written; the tensors still follow the shape.
  std::function<void(ModelHeader& header)> edit_header;
  // A tensor written twice in a row (edit_record sees both copies, so the second can be renamed).
  std::string duplicate_record;
};

// Throws std::runtime_error when the file cannot be written, std::invalid_argument for an unsupported
// matrix_type.
void write_random_model(const std::filesystem::path& path, const ModelShape& shape,
                        const WriteOptions& options);

// Byte offset of the vocabulary's int32 count, right after the header and the mel filters (independent of
// the options). Handy for tests that patch or truncate a file.
std::uint64_t vocabulary_offset(const ModelShape& shape);

}  // namespace npuscribe::test
