// The official whisper.cpp ggml models (names, files, published sizes and SHA-1 checksums) and where
// npuscribe keeps installed models: $NPUSCRIBE_MODELS_DIR, else $XDG_DATA_HOME/npuscribe/models, else
// ~/.local/share/npuscribe/models.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace npuscribe {

struct OfficialModel {
  std::string name;       // "base.en", "large-v3-turbo-q5_0"
  std::string file_name;  // "ggml-base.en.bin"
  // Published size. whisper.cpp only publishes rounded sizes ("142 MiB", "1.5 GiB"), so for the official
  // table this is approximate and only a plausibility bound; set size_is_exact for an exact byte count.
  std::uint64_t size_bytes = 0;
  std::string sha1;  // lower-case hex SHA-1 of the whole file; empty if unknown
  bool size_is_exact = false;
};

// Every official model, smallest family first.
std::span<const OfficialModel> official_models();

// "base.en" or "ggml-base.en.bin"; nullptr for anything else.
const OfficialModel* find_official_model(std::string_view name);

// "512 KiB", "4.5 MiB", "466 MiB", "1.5 GiB".
std::string format_size(std::uint64_t size_bytes);

// Whether a file of actual_bytes can be this model: equal when size_is_exact, else within the tolerance of
// whisper.cpp's rounded size labels.
bool size_plausible(const OfficialModel& model, std::uint64_t actual_bytes);

// $NPUSCRIBE_MODELS_DIR, else $XDG_DATA_HOME/npuscribe/models, else ~/.local/share/npuscribe/models.
// Not created here.
std::filesystem::path models_directory();

// models_directory() / model.file_name, and the same with ".part" appended (a download in progress).
std::filesystem::path installed_model_path(const OfficialModel& model);
std::filesystem::path partial_model_path(const OfficialModel& model);

// An existing file path wins; else an official model name installed in models_directory(); else throws
// npuscribe::Error saying how to download it (official name) or what the official names are (unknown name).
std::filesystem::path resolve_model(std::string_view name_or_path);

struct InstalledState {
  bool installed = false;
  // The final file's size when installed, else the .part file's size when partial, else 0.
  std::uint64_t size_bytes_on_disk = 0;
  bool partial = false;  // a .part file is present (an interrupted download that can be resumed)
};
InstalledState installed_state(const OfficialModel& model);

}  // namespace npuscribe
