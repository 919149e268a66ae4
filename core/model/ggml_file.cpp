#include "model/ggml_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "util/error.h"

namespace npuscribe {

// Read-only private mapping of a whole file. Pages stay file-backed, so the kernel can drop them under
// memory pressure and several processes share them.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      throw Error(path.string() + ": cannot open model file (" + std::strerror(errno) +
                  "). Check the path; whisper.cpp's models (ggml-tiny.en.bin, ggml-base.en.bin, ...) come "
                  "from its models/download-ggml-model.sh.");
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd);
      throw Error(path.string() + ": not a regular file; give the path of a ggml model (.bin) file.");
    }
    size_ = static_cast<std::uint64_t>(info.st_size);
    if (size_ > 0) {
      void* address = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (address == MAP_FAILED) {
        const int saved = errno;
        ::close(fd);
        throw Error(path.string() + ": cannot map model file into memory (" + std::strerror(saved) + ").");
      }
      data_ = static_cast<const std::byte*>(address);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const std::byte* data() const { return data_; }
  std::uint64_t size() const { return size_; }

 private:
  const std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
};

namespace {

// Bounds-checked little-endian reader over the mapping; every failure names the file and section.
class Reader {
 public:
  Reader(const std::byte* data, std::uint64_t size, std::string label)
      : data_(data), size_(size), label_(std::move(label)) {}

  std::uint64_t offset() const { return offset_; }
  std::uint64_t remaining() const { return size_ - offset_; }
  bool at_end() const { return offset_ == size_; }

  void require(std::uint64_t bytes, const char* what) const {
    if (bytes > remaining()) {
      std::ostringstream message;
      message << label_ << ": file is truncated (" << what << " needs " << bytes << " bytes at offset "
              << offset_ << ", only " << remaining()
              << " left). The download was probably interrupted: download the model again.";
      throw Error(message.str());
    }
  }
  std::int32_t i32(const char* what) {
    require(4, what);
    std::int32_t value;
    std::memcpy(&value, data_ + offset_, 4);
    offset_ += 4;
    return value;
  }
  const std::byte* take(std::uint64_t bytes, const char* what) {
    require(bytes, what);
    const std::byte* start = data_ + offset_;
    offset_ += bytes;
    return start;
  }

 private:
  const std::byte* data_;
  std::uint64_t size_;
  std::uint64_t offset_ = 0;
  std::string label_;
};

std::string field_error(const std::string& label, const char* field, std::int64_t value,
                        const char* expected) {
  std::ostringstream message;
  message
      << label << ": hyper-parameter " << field << " = " << value << " is not plausible (" << expected
      << "). This is not a valid Whisper ggml model, or the file is damaged: use an official ggml-*.bin from "
         "whisper.cpp, or convert the model again with its convert-pt-to-ggml.py.";
  return message.str();
}

}  // namespace

std::string_view ggml_type_name(GgmlType type) {
  switch (type) {
    case GgmlType::f32:
      return "f32";
    case GgmlType::f16:
      return "f16";
    case GgmlType::q4_0:
      return "q4_0";
    case GgmlType::q4_1:
      return "q4_1";
    case GgmlType::q5_0:
      return "q5_0";
    case GgmlType::q5_1:
      return "q5_1";
    case GgmlType::q8_0:
      return "q8_0";
  }
  return "unknown";
}

bool ggml_type_layout(std::int32_t type_id, int* block_elements, int* block_bytes) {
  int elements = 32, bytes = 0;
  switch (static_cast<GgmlType>(type_id)) {
    case GgmlType::f32:
      elements = 1, bytes = 4;
      break;
    case GgmlType::f16:
      elements = 1, bytes = 2;
      break;
    case GgmlType::q4_0:
      bytes = 18;
      break;
    case GgmlType::q4_1:
      bytes = 20;
      break;
    case GgmlType::q5_0:
      bytes = 22;
      break;
    case GgmlType::q5_1:
      bytes = 24;
      break;
    case GgmlType::q8_0:
      bytes = 34;
      break;
    default:
      return false;
  }
  if (block_elements) *block_elements = elements;
  if (block_bytes) *block_bytes = bytes;
  return true;
}

std::string WhisperHparams::size_name() const {
  std::string name;
  switch (n_audio_state) {
    case 384:
      name = "tiny";
      break;
    case 512:
      name = "base";
      break;
    case 768:
      name = "small";
      break;
    case 1024:
      name = "medium";
      break;
    case 1280:
      name = n_mels == 128 ? (n_text_layer == 4 ? "large-v3-turbo" : "large-v3") : "large";
      break;
    default:
      return "custom";
  }
  return is_multilingual() ? name : name + ".en";
}

std::string TensorRecord::shape_string() const {
  std::string text = "[";
  for (int i = 0; i < n_dims; ++i) text += (i ? ", " : "") + std::to_string(ne[i]);
  return text + "]";
}

void validate_hparams(const WhisperHparams& h, const std::string& label) {
  // Bounds generous enough for every official model (large: 1280 wide, 32 layers, 128 mels) and for
  // plausible fine-tunes, tight enough that no later size computation can overflow or explode.
  auto check_range = [&](const char* field, std::int64_t value, std::int64_t low, std::int64_t high) {
    if (value < low || value > high) {
      const std::string expected = "expected " + std::to_string(low) + " to " + std::to_string(high);
      throw Error(field_error(label, field, value, expected.c_str()));
    }
  };
  check_range("n_vocab", h.n_vocab, 51864, 60000);
  check_range("n_audio_ctx", h.n_audio_ctx, 1, 1500);
  check_range("n_audio_state", h.n_audio_state, 64, 4096);
  check_range("n_audio_head", h.n_audio_head, 1, 64);
  check_range("n_audio_layer", h.n_audio_layer, 1, 64);
  check_range("n_text_ctx", h.n_text_ctx, 16, 448);
  check_range("n_text_state", h.n_text_state, 64, 4096);
  check_range("n_text_head", h.n_text_head, 1, 64);
  check_range("n_text_layer", h.n_text_layer, 1, 64);
  if (h.n_mels != 80 && h.n_mels != 128)
    throw Error(field_error(label, "n_mels", h.n_mels, "Whisper models use 80 or 128 mel bins"));
  if (h.n_audio_state % h.n_audio_head != 0) {
    const std::string expected = "must be divisible by n_audio_head = " + std::to_string(h.n_audio_head);
    throw Error(field_error(label, "n_audio_state", h.n_audio_state, expected.c_str()));
  }
  if (h.n_text_state % h.n_text_head != 0) {
    const std::string expected = "must be divisible by n_text_head = " + std::to_string(h.n_text_head);
    throw Error(field_error(label, "n_text_state", h.n_text_state, expected.c_str()));
  }
  if (h.n_text_state != h.n_audio_state)
    throw Error(field_error(label, "n_text_state", h.n_text_state, "must equal n_audio_state"));
  if (h.ftype < 0 || h.ftype % 1000 > 40 || h.ftype / 1000 > 10)
    throw Error(field_error(label, "ftype", h.ftype, "expected quantisation version * 1000 + file type"));
}

std::uint64_t GgmlModelFile::size_bytes() const {
  return mapping_->size();
}

GgmlModelFile::~GgmlModelFile() = default;

const TensorRecord* GgmlModelFile::find(std::string_view name) const {
  auto found = tensors_.find(name);
  return found == tensors_.end() ? nullptr : &found->second;
}

std::unique_ptr<GgmlModelFile> GgmlModelFile::open(const std::filesystem::path& path) {
  std::unique_ptr<GgmlModelFile> file(new GgmlModelFile());
  file->path_ = path;
  file->mapping_ = std::make_unique<MappedFile>(path);
  const std::string label = path.string();
  Reader reader(file->mapping_->data(), file->mapping_->size(), label);

  if (file->mapping_->size() == 0)
    throw Error(label + ": the model file is empty. Download the model again.");
  if (file->mapping_->size() < 4 || static_cast<std::uint32_t>(reader.i32("magic")) != kGgmlMagic) {
    throw Error(
        label +
        ": not a whisper.cpp ggml model (wrong magic number). npuscribe reads the ggml-*.bin files of "
        "whisper.cpp; GGUF, PyTorch and safetensors files must be converted first.");
  }

  WhisperHparams& h = file->hparams_;
  h.n_vocab = reader.i32("header");
  h.n_audio_ctx = reader.i32("header");
  h.n_audio_state = reader.i32("header");
  h.n_audio_head = reader.i32("header");
  h.n_audio_layer = reader.i32("header");
  h.n_text_ctx = reader.i32("header");
  h.n_text_state = reader.i32("header");
  h.n_text_head = reader.i32("header");
  h.n_text_layer = reader.i32("header");
  h.n_mels = reader.i32("header");
  h.ftype = reader.i32("header");
  validate_hparams(h, label);

  // Mel filter bank.
  MelFilterBank& filters = file->mel_filters_;
  filters.n_mels = reader.i32("mel filter header");
  filters.n_fft_bins = reader.i32("mel filter header");
  if (filters.n_mels != h.n_mels || filters.n_fft_bins != 201) {
    throw Error(label + ": mel filter bank is " + std::to_string(filters.n_mels) + " x " +
                std::to_string(filters.n_fft_bins) + ", expected " + std::to_string(h.n_mels) +
                " x 201. The file is damaged or not a Whisper model.");
  }
  const std::uint64_t filter_count = static_cast<std::uint64_t>(filters.n_mels) * filters.n_fft_bins;
  const std::byte* filter_bytes = reader.take(filter_count * 4, "mel filters");
  filters.weights.resize(filter_count);
  std::memcpy(filters.weights.data(), filter_bytes, filter_count * 4);

  // Vocabulary: count, then (uint32 length, bytes) per token.
  const std::int32_t token_count = reader.i32("vocabulary size");
  if (token_count < 0 || token_count > h.n_vocab) {
    throw Error(label + ": vocabulary holds " + std::to_string(token_count) +
                " tokens but the header says n_vocab = " + std::to_string(h.n_vocab) +
                ". The file is damaged.");
  }
  file->vocabulary_.reserve(static_cast<std::size_t>(token_count));
  for (std::int32_t id = 0; id < token_count; ++id) {
    const auto length = static_cast<std::uint32_t>(reader.i32("vocabulary entry"));
    if (length > 256) {
      throw Error(label + ": vocabulary entry " + std::to_string(id) + " claims " + std::to_string(length) +
                  " bytes (at most 256 expected). The file is damaged.");
    }
    const std::byte* bytes = reader.take(length, "vocabulary entry");
    file->vocabulary_.emplace_back(reinterpret_cast<const char*>(bytes), length);
  }

  // Tensor records until the end of the file.
  while (!reader.at_end()) {
    TensorRecord record;
    const std::uint64_t record_offset = reader.offset();
    record.n_dims = reader.i32("tensor record");
    const std::int32_t name_length = reader.i32("tensor record");
    const std::int32_t type_id = reader.i32("tensor record");
    if (record.n_dims < 1 || record.n_dims > 4 || name_length <= 0 || name_length > 256) {
      throw Error(label + ": tensor record at offset " + std::to_string(record_offset) + " has " +
                  std::to_string(record.n_dims) + " dims and a " + std::to_string(name_length) +
                  "-byte name; the file is damaged. Download the model again.");
    }
    std::uint64_t element_count = 1;
    for (int i = 0; i < record.n_dims; ++i) {
      record.ne[i] = reader.i32("tensor shape");
      if (record.ne[i] <= 0 || record.ne[i] > (1 << 24)) {
        throw Error(label + ": tensor record at offset " + std::to_string(record_offset) +
                    " has an impossible dimension " + std::to_string(record.ne[i]) +
                    "; the file is damaged. Download the model again.");
      }
      element_count *= static_cast<std::uint64_t>(record.ne[i]);
      // Four dims of up to 2^24 could overflow 64 bits; no tensor can hold more elements than the file has
      // bytes (the densest type, q4_0, stores 32 elements in 18 bytes).
      if (element_count > 2 * reader.remaining() + 64) {
        throw Error(label + ": tensor record at offset " + std::to_string(record_offset) + " claims shape " +
                    record.shape_string() +
                    ", more data than the file holds: the file is truncated or damaged. Download the "
                    "model again.");
      }
    }
    const std::byte* name_bytes = reader.take(static_cast<std::uint64_t>(name_length), "tensor name");
    record.name.assign(reinterpret_cast<const char*>(name_bytes), static_cast<std::size_t>(name_length));

    int block_elements = 0, block_bytes = 0;
    if (!ggml_type_layout(type_id, &block_elements, &block_bytes)) {
      throw Error(label + ": tensor '" + record.name + "' has unknown ggml type id " +
                  std::to_string(type_id) + ". Supported types: f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0.");
    }
    record.type = static_cast<GgmlType>(type_id);
    if (record.ne[0] % block_elements != 0) {
      throw Error(label + ": tensor '" + record.name + "' of type " +
                  std::string(ggml_type_name(record.type)) + " has a row of " + std::to_string(record.ne[0]) +
                  " elements, not a multiple of " + std::to_string(block_elements) + ".");
    }
    record.data_bytes = element_count / block_elements * block_bytes;
    record.data_offset = reader.offset();
    record.data = reader.take(record.data_bytes, ("data of tensor '" + record.name + "'").c_str());
    if (!file->tensors_.emplace(record.name, record).second) {
      throw Error(label + ": tensor '" + record.name +
                  "' appears twice; the file is damaged. Download the model again.");
    }
  }
  return file;
}

}  // namespace npuscribe
