#include "private_pulseaudio.h"

#include <signal.h>

#include <QProcess>
#include <QStandardPaths>
#include <QStringList>
#include <fstream>

namespace npuscribe::test {

PrivatePulseAudio::PrivatePulseAudio(const std::filesystem::path& runtime_dir) : runtime_dir_(runtime_dir) {
  const QString runtime = QString::fromStdString(runtime_dir_.string());
  const QString server = "unix:" + runtime + "/pulse/native";
  environment_ = QProcessEnvironment::systemEnvironment();
  environment_.insert("XDG_RUNTIME_DIR", runtime);
  environment_.insert("PULSE_SERVER", server);
  qputenv("XDG_RUNTIME_DIR", runtime.toUtf8());
  qputenv("PULSE_SERVER", server.toUtf8());
}

PrivatePulseAudio::~PrivatePulseAudio() {
  stop();
}

QString PrivatePulseAudio::missing_tools() {
  for (const char* tool : {"pulseaudio", "pactl", "paplay"}) {
    if (QStandardPaths::findExecutable(tool).isEmpty())
      return QString("%1 is not installed (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)")
          .arg(tool);
  }
  return {};
}

bool PrivatePulseAudio::start(const QString& sink_options, QString* why) {
  auto fail = [why](const QString& message) {
    if (why) *why = message;
    return false;
  };
  QProcess daemon;
  daemon.setProcessEnvironment(environment_);
  QString sink = "--load=module-null-sink sink_name=virt";
  if (!sink_options.isEmpty()) sink += " " + sink_options;
  daemon.start("pulseaudio", {"--daemonize=yes", "--exit-idle-time=-1", "--disallow-exit", "-n",
                              "--load=module-native-protocol-unix", sink, "--load=module-always-sink"});
  if (!daemon.waitForFinished(20000) || daemon.exitCode() != 0)
    return fail("pulseaudio could not start a private daemon here: " +
                QString::fromUtf8(daemon.readAllStandardError()).trimmed());
  std::ifstream pid_file(runtime_dir_ / "pulse" / "pid");
  pid_file >> pid_;
  if (pid_ <= 0) return fail("the private pulseaudio daemon wrote no pid file");
  QProcess pactl;
  pactl.setProcessEnvironment(environment_);
  pactl.start("pactl", {"set-default-source", "virt.monitor"});
  if (!pactl.waitForFinished(10000) || pactl.exitCode() != 0)
    return fail("pactl could not make the null sink's monitor the default source");
  return true;
}

void PrivatePulseAudio::stop() {
  if (pid_ > 0) ::kill(static_cast<pid_t>(pid_), SIGTERM);
  pid_ = 0;
}

}  // namespace npuscribe::test
