// A private PulseAudio daemon with a null sink "virt" whose monitor is the default source: the real
// microphone and speaker paths (PortAudio -> ALSA's pulse plugin) without audio hardware. Audio played
// into "virt" (paplay -d virt) arrives at real-time pace. Used by the capture, playback and dictation suites.
#pragma once

#include <QProcessEnvironment>
#include <QString>
#include <filesystem>

namespace npuscribe::test {

class PrivatePulseAudio {
 public:
  // runtime_dir: a folder of the test's own (its XDG_RUNTIME_DIR). Points this process's ALSA pulse plugin
  // (inside PortAudio) at the daemon.
  explicit PrivatePulseAudio(const std::filesystem::path& runtime_dir);
  ~PrivatePulseAudio();  // stops the daemon if it runs

  // Why the daemon cannot run here (pulseaudio, pactl or paplay missing), or "" when it can.
  static QString missing_tools();

  // Starts the daemon; sink_options are appended to module-null-sink's ("rate=48000 channels=2"). Returns
  // false with *why set when it cannot start.
  bool start(const QString& sink_options = {}, QString* why = nullptr);
  void stop();  // SIGTERM to this daemon only (never by name: other tests may run their own)
  bool running() const { return pid_ > 0; }

  // For child processes (paplay, pactl): the same daemon.
  const QProcessEnvironment& environment() const { return environment_; }

 private:
  std::filesystem::path runtime_dir_;
  QProcessEnvironment environment_;
  qint64 pid_ = 0;
};

}  // namespace npuscribe::test
