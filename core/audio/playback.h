// Audio output through PortAudio for the file view's click-to-play: plays 16 kHz mono samples from a
// start time on the default (or a named) output device, converted to the device's rate and channel count.
//
// Threads: play()/stop() and the queries are called from one thread (the GUI thread); PortAudio's callback
// only copies already-converted samples from a lock-free ring; a feeder thread converts ahead of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "audio/audio_buffer.h"

namespace npuscribe {

class AudioPlayer {
 public:
  AudioPlayer();
  ~AudioPlayer();  // stops
  AudioPlayer(const AudioPlayer&) = delete;
  AudioPlayer& operator=(const AudioPlayer&) = delete;

  // Starts playing from start_s (clamped to the audio); a playback already running is stopped first.
  // The samples are copied. Throws npuscribe::Error when there is no output device or it cannot be opened.
  // device_name "" = the default output device; else an exact name from list_output_devices().
  void play(const MonoAudio& audio, double start_s = 0.0, const std::string& device_name = "");
  void play(std::span<const float> samples_16k, double start_s = 0.0, const std::string& device_name = "");
  void stop();  // safe when nothing plays

  // True from play() until the last sample has been handed to the device (or stop()).
  bool is_playing() const;
  // The playback position on the audio's clock (seconds): start_s + what the device has consumed.
  double position_s() const;
  double duration_s() const;  // of the audio given to play()

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace npuscribe
