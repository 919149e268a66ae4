// whisper.cpp's ggml model file: header, mel filters, vocabulary, then named tensors. Memory-mapped and
// parsed with bounds checks: a bad file gives npuscribe::Error, never a crash or a huge allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dsp/log_mel.h"

namespace npuscribe {

inline constexpr std::uint32_t kGgmlMagic = 0x67676d6c;  // "lmgg" on disk

// ggml type ids as written in tensor records.
enum class GgmlType : std::int32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
};

std::string_view ggml_type_name(GgmlType type);
// Elements per block and bytes per block; false for ids this reader does not know.
bool ggml_type_layout(std::int32_t type_id, int* block_elements, int* block_bytes);

struct WhisperHparams {
  std::int32_t n_vocab = 0;
  std::int32_t n_audio_ctx = 0;
  std::int32_t n_audio_state = 0;
  std::int32_t n_audio_head = 0;
  std::int32_t n_audio_layer = 0;
  std::int32_t n_text_ctx = 0;
  std::int32_t n_text_state = 0;
  std::int32_t n_text_head = 0;
  std::int32_t n_text_layer = 0;
  std::int32_t n_mels = 0;
  std::int32_t ftype = 0;  // quantisation version * 1000 + file type

  bool is_multilingual() const { return n_vocab >= 51865; }
  // Language tokens in the vocabulary: 99 for most multilingual models, 100 for large-v3.
  int language_count() const { return n_vocab - 51765 - (is_multilingual() ? 1 : 0); }
  // "tiny.en", "base", "small", "medium.en", "large", "large-v3", "large-v3-turbo" from the shape, or
  // "custom".
  std::string size_name() const;
};

struct TensorRecord {
  std::string name;
  GgmlType type = GgmlType::f32;
  int n_dims = 0;
  std::array<std::int64_t, 4> ne{1, 1, 1, 1};  // ne[0] fastest-varying
  std::uint64_t data_offset = 0;               // from the start of the file
  std::uint64_t data_bytes = 0;
  const std::byte* data = nullptr;  // into the mapping; unaligned
  std::int64_t element_count() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "[384, 1500]" (ggml ne order)
};

class MappedFile;

class GgmlModelFile {
 public:
  // Throws npuscribe::Error naming the file and what is wrong with it.
  static std::unique_ptr<GgmlModelFile> open(const std::filesystem::path& path);
  ~GgmlModelFile();

  const std::filesystem::path& path() const { return path_; }
  std::uint64_t size_bytes() const;
  const WhisperHparams& hparams() const { return hparams_; }
  const MelFilterBank& mel_filters() const { return mel_filters_; }
  // Raw bytes of each stored token (GPT-2 byte-level BPE), index = token id.
  const std::vector<std::string>& vocabulary() const { return vocabulary_; }
  const std::map<std::string, TensorRecord, std::less<>>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorRecord* find(std::string_view name) const;

 private:
  GgmlModelFile() = default;
  std::filesystem::path path_;
  std::unique_ptr<MappedFile> mapping_;
  WhisperHparams hparams_;
  MelFilterBank mel_filters_;
  std::vector<std::string> vocabulary_;
  std::map<std::string, TensorRecord, std::less<>> tensors_;
};

// Rejects values no official or plausible Whisper model has; the message names the field.
void validate_hparams(const WhisperHparams& hparams, const std::string& file_label);

}  // namespace npuscribe
