#include "engine/features.h"

#include "dsp/streaming_log_mel.h"

namespace npuscribe {

AudioFeatures features_from_file(const std::filesystem::path& path, const MelFilterBank& filters,
                                 const FeatureOptions& options, DecodeReport* report) {
  AudioFileDecoder decoder(path, options.stream_index);
  StreamingLogMel mel(filters);
  HopLevelMeter levels;
  constexpr std::size_t kChunkSamples = 10 * kWhisperSampleRateHz;  // 10 s at a time
  std::vector<float> chunk;
  std::int64_t total_samples = 0;
  for (;;) {
    if (options.cancel && options.cancel->load()) break;
    chunk.clear();
    const std::size_t got = decoder.read(chunk, kChunkSamples);
    if (got == 0) break;
    mel.push(chunk);
    levels.push(chunk);
    total_samples += static_cast<std::int64_t>(got);
    if (options.on_progress) options.on_progress(static_cast<double>(total_samples) / kWhisperSampleRateHz);
  }
  if (report) *report = decoder.report();
  AudioFeatures features;
  features.mel = mel.finish();
  features.hop_rms = levels.finish();
  features.duration_s = static_cast<double>(total_samples) / kWhisperSampleRateHz;
  return features;
}

}  // namespace npuscribe
