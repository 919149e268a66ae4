// Audio files to the transcriber's input without holding the decoded audio: the FFmpeg decoder feeds a
// streaming log-mel and the per-hop levels chunk by chunk (an hour costs the 115 MB mel, not 230 MB of PCM).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>

#include "audio/audio_file.h"
#include "engine/transcriber.h"

namespace npuscribe {

struct FeatureOptions {
  int stream_index = -1;  // -1: the first audio stream
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(double decoded_s)> on_progress;  // called every few seconds of decoded audio
};

// Throws npuscribe::Error (from the decoder) for unreadable files; decode problems that were survived are
// in report->warnings.
AudioFeatures features_from_file(const std::filesystem::path& path, const MelFilterBank& filters,
                                 const FeatureOptions& options = {}, DecodeReport* report = nullptr);

}  // namespace npuscribe
