// Downloads an official ggml model into models_directory() with libcurl: resumable (FILE.part + HTTP Range),
// cancellable, verified (size and SHA-1 of the complete file) before it is renamed into place.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "model/model_registry.h"
#include "util/error.h"

namespace npuscribe {

// Thrown when DownloadOptions::cancel was set. The .part file is kept; the same download resumes it.
class DownloadCancelled : public Error {
 public:
  using Error::Error;
};

struct DownloadProgress {
  std::uint64_t received_bytes = 0;  // of the whole file, including what a resumed .part already held
  std::uint64_t total_bytes = 0;     // the server's size of the file, else the model's published size
  double bytes_per_second = 0.0;     // over the last few seconds
};

struct DownloadOptions {
  std::string base_url = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main";
  // Called on the downloading thread at most every 100 ms while data arrives; received_bytes strictly
  // increases, and the last call of a successful download has received_bytes == total_bytes.
  std::function<void(const DownloadProgress&)> on_progress;
  // Set (from any thread or a signal handler) to stop the download within about a second.
  const std::atomic<bool>* cancel = nullptr;
  long connect_timeout_s = 20;
  // Gives up when less than one byte per second arrived for this long.
  long low_speed_timeout_s = 60;
};

// Downloads base_url/FILE to models_directory()/FILE (creating the directory), resuming from
// FILE.part when present. Returns the installed path; a file already installed is returned untouched.
// Throws DownloadCancelled when cancelled, npuscribe::Error for every failure: HTTP errors, network
// failures and timeouts (the .part is kept for a resume), a full disk, and a corrupted download (size or
// checksum mismatch: the .part is deleted).
std::filesystem::path download_model(const OfficialModel& model, const DownloadOptions& options);

// Lower-case hex SHA-1 of a file, streamed. Throws npuscribe::Error if it cannot be read.
std::string sha1_file_hex(const std::filesystem::path& path);

}  // namespace npuscribe
