#include "packaging_support.h"

#include <fcntl.h>
#include <unistd.h>

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <fstream>

namespace npuscribe::packaging_test {

RunResult run(const QString& program, const QStringList& arguments, const QProcessEnvironment& environment,
              const QString& working_dir, int timeout_ms) {
  QProcess process;
  process.setProcessEnvironment(environment);
  if (!working_dir.isEmpty()) process.setWorkingDirectory(working_dir);
  process.start(program, arguments);
  RunResult result;
  if (!process.waitForStarted(30000)) {
    result.err = ("cannot start " + program).toUtf8();
    return result;
  }
  if (!process.waitForFinished(timeout_ms)) {
    process.kill();
    process.waitForFinished();
    result.err = ("timed out: " + program).toUtf8();
    return result;
  }
  result.crashed = process.exitStatus() != QProcess::NormalExit;
  result.exit_code = process.exitCode();
  result.out = process.readAllStandardOutput();
  result.err = process.readAllStandardError();
  return result;
}

RunResult run(const QString& program, const QStringList& arguments) {
  return run(program, arguments, QProcessEnvironment::systemEnvironment());
}

QProcessEnvironment clean_environment(const std::filesystem::path& home) {
  QProcessEnvironment environment;
  environment.insert("HOME", QString::fromStdString(home.string()));
  environment.insert("TMPDIR", QString::fromStdString(home.string()));
  environment.insert("QT_QPA_PLATFORM", "offscreen");
  return environment;
}

std::filesystem::path appdir() {
  return NPUSCRIBE_APPDIR;
}
std::filesystem::path appimage() {
  return NPUSCRIBE_APPIMAGE;
}

QStringList exclude_patterns() {
  QFile file(NPUSCRIBE_EXCLUDELIST);
  if (!file.open(QIODevice::ReadOnly)) return {};
  QStringList patterns;
  for (const QByteArray& raw_line : file.readAll().split('\n')) {
    QString line = QString::fromUtf8(raw_line);
    line = line.left(line.indexOf('#') < 0 ? line.size() : line.indexOf('#')).trimmed();
    if (!line.isEmpty()) patterns << line;
  }
  return patterns;
}

bool is_excluded(const QString& soname, const QStringList& patterns) {
  for (const QString& pattern : patterns) {
    QRegularExpression glob(QRegularExpression::wildcardToRegularExpression(pattern));
    if (glob.match(soname).hasMatch()) return true;
  }
  return false;
}

bool is_elf(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
}

std::vector<std::filesystem::path> elf_files(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && !entry.is_symlink() && is_elf(entry.path())) files.push_back(entry.path());
  }
  return files;
}

std::optional<std::pair<int, int>> png_size(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  unsigned char header[24] = {};
  if (!in.read(reinterpret_cast<char*>(header), sizeof header)) return std::nullopt;
  const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (!std::equal(signature, signature + 8, header) || std::string(header + 12, header + 16) != "IHDR")
    return std::nullopt;
  auto big_endian = [&](int at) {
    return int(header[at]) << 24 | int(header[at + 1]) << 16 | int(header[at + 2]) << 8 | int(header[at + 3]);
  };
  return std::pair{big_endian(16), big_endian(20)};
}

bool fuse_mount_works(QString* why) {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *why = "/dev/fuse cannot be opened here";
    return false;
  }
  close(fd);
  QProcess mount;
  mount.start(QString::fromStdString(appimage().string()), {"--appimage-mount"});
  bool mounted = mount.waitForReadyRead(30000) && mount.readLine().trimmed().startsWith('/');
  if (!mounted) {
    mount.waitForFinished(5000);
    *why = "FUSE mounts are not permitted here: " + QString::fromUtf8(mount.readAllStandardError()).trimmed();
  }
  mount.terminate();  // the mount's server unmounts when the runtime ends
  mount.waitForFinished(10000);
  return mounted;
}

}  // namespace npuscribe::packaging_test
