// Microphone input through PortAudio: device list (with hot-plug rescan), a stream opened at the device's
// native rate and channel count, converted to 16 kHz mono for the engine, a level meter, pause/resume, an
// optional incremental WAV copy, and detection of a device that vanishes mid-recording.
//
// Threads: PortAudio's callback only copies samples into a ring buffer (never blocks, never allocates);
// a converter thread owned by AudioCapture downmixes, resamples, meters, writes the WAV and hands 16 kHz
// chunks to the consumer callback. Errors (device lost, disk full) go to the error callback once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace npuscribe {

struct AudioDeviceInfo {
  int index = -1;               // PortAudio device index (valid until the next refresh)
  std::string name;             // "pulse", "default", "HDA Intel PCH: ALC295 Analog (hw:0,0)", ...
  std::string host_api;         // "ALSA", "JACK Audio Connection Kit", ...
  int max_input_channels = 0;   // input devices: > 0
  int max_output_channels = 0;  // output devices: > 0
  double default_sample_rate_hz = 0.0;
  bool is_default = false;  // the host's default input (or output, for output lists)
};

struct AudioLevel {
  float peak_dbfs = -120.0f;
  float rms_dbfs = -120.0f;
};

// dBFS of a linear amplitude, floored at -120.
float amplitude_to_dbfs(double amplitude);
// Peak and RMS level of a block of samples in [-1, 1].
AudioLevel measure_level(std::span<const float> samples);

// Input devices as PortAudio sees them now. Rescans the system (Pa_Terminate/Pa_Initialize) when
// `rescan` is true and no PortAudio stream is open in this process; otherwise returns the current list.
std::vector<AudioDeviceInfo> list_input_devices(bool rescan = false);
std::vector<AudioDeviceInfo> list_output_devices(bool rescan = false);

struct CaptureOptions {
  std::string device_name;       // "" = the default input device; else an exact name from the list
  std::string save_wav_path;     // "" = don't save; else 16 kHz mono 16-bit PCM written as it arrives
  double stall_timeout_s = 3.0;  // no audio from the device for this long while running = device lost
  int chunk_ms = 20;             // size of the chunks handed to the consumer (16 kHz mono)
  int sample_rate_hz = 0;        // 0 = the device's default rate; else open the device at this rate
  int channels = 0;              // 0 = up to 2 of the device's channels; else this many (downmixed)
};

class AudioCapture {
 public:
  // Called on the converter thread with 16 kHz mono samples (not while paused).
  using SamplesCallback = std::function<void(std::span<const float> samples)>;
  using LevelCallback = std::function<void(const AudioLevel& level)>;  // about every 50 ms
  using ErrorCallback = std::function<void(const std::string& message)>;

  AudioCapture();
  ~AudioCapture();  // stops
  AudioCapture(const AudioCapture&) = delete;
  AudioCapture& operator=(const AudioCapture&) = delete;

  void set_samples_callback(SamplesCallback callback);
  void set_level_callback(LevelCallback callback);
  void set_error_callback(ErrorCallback callback);

  // Opens the device and starts streaming; throws npuscribe::Error when the device is unknown or cannot
  // be opened, or the WAV file cannot be created.
  void start(const CaptureOptions& options);
  // Stops the stream, delivers what is still buffered, fixes the WAV header. Safe to call twice.
  void stop();
  void pause();  // keeps the stream running (so a vanished device is still noticed) but drops the audio
  void resume();
  bool is_running() const { return running_.load(); }
  bool is_paused() const { return paused_.load(); }

  const AudioDeviceInfo& device() const;  // the device in use (valid after start)
  // 16 kHz samples delivered so far (the audio clock of the recording, without paused time).
  std::int64_t samples_delivered() const { return samples_delivered_.load(); }
  // Frames (at the device rate) PortAudio's callback received, and those dropped because the converter
  // fell 4 s behind. Everything received and not dropped reaches the consumer and the WAV by stop().
  std::int64_t frames_received() const;
  std::int64_t frames_dropped() const;
  int device_rate_hz() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> running_{false};
  std::atomic<bool> paused_{false};
  std::atomic<std::int64_t> samples_delivered_{0};
};

}  // namespace npuscribe
