// Helpers of the packaging tests: running programs with a clean environment, the exclude list, ELF and
// PNG headers read independently of the code that built the AppImage.
#pragma once

#include <QByteArray>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <filesystem>
#include <optional>

namespace npuscribe::packaging_test {

struct RunResult {
  int exit_code = -1;
  bool crashed = false;
  QByteArray out;
  QByteArray err;
};

// Runs program with exactly `environment` (QProcessEnvironment() = `env -i`), in `working_dir` if given.
RunResult run(const QString& program, const QStringList& arguments, const QProcessEnvironment& environment,
              const QString& working_dir = {}, int timeout_ms = 300000);
RunResult run(const QString& program, const QStringList& arguments);

// HOME, TMPDIR (both `home`) and QT_QPA_PLATFORM=offscreen: what `env -i` plus those leaves.
QProcessEnvironment clean_environment(const std::filesystem::path& home);

std::filesystem::path appdir();
std::filesystem::path appimage();

// packaging/excludelist.txt: sonames and globs the AppImage takes from the host.
QStringList exclude_patterns();
bool is_excluded(const QString& soname, const QStringList& patterns);

bool is_elf(const std::filesystem::path& file);
// Every regular ELF file below `root` (symlinks not followed).
std::vector<std::filesystem::path> elf_files(const std::filesystem::path& root);

// Width and height from a PNG's IHDR chunk; nullopt when the file is not a PNG.
std::optional<std::pair<int, int>> png_size(const std::filesystem::path& file);

// Whether the AppImage can be FUSE-mounted here (`--appimage-mount` succeeds); containers usually forbid it.
// On failure `why` says what happened.
bool fuse_mount_works(QString* why);

}  // namespace npuscribe::packaging_test
