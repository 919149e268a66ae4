// The .AppImage file: type 2 layout (magic, SquashFS right after the section header table, the spec's ELF
// sections), extraction, and `npuscribe transcribe` from the image under a clean environment printing the
// same text as the build tree's binary, both extracted-and-run and (where /dev/fuse works) FUSE-mounted.
#include <QDir>
#include <QFile>
#include <QThread>
#include <QtTest>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "packaging_support.h"
#include "test_support.h"

using namespace npuscribe::packaging_test;
namespace fs = std::filesystem;

namespace {
QString path_string(const fs::path& path) {
  return QString::fromStdString(path.string());
}

QByteArray read_bytes(const fs::path& path, std::uint64_t offset, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  QByteArray bytes(static_cast<qsizetype>(count), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(count));
  return in ? bytes : QByteArray();
}

template <typename T>
T little_endian(const QByteArray& bytes, int at) {
  T value = 0;
  for (int i = int(sizeof(T)) - 1; i >= 0; --i)
    value = T(value << 8 | static_cast<unsigned char>(bytes[at + i]));
  return value;
}

bool same_file_contents(const fs::path& a, const fs::path& b) {
  if (fs::file_size(a) != fs::file_size(b)) return false;
  std::ifstream in_a(a, std::ios::binary), in_b(b, std::ios::binary);
  std::vector<char> buffer_a(1 << 20), buffer_b(1 << 20);
  while (in_a && in_b) {
    in_a.read(buffer_a.data(), std::streamsize(buffer_a.size()));
    in_b.read(buffer_b.data(), std::streamsize(buffer_b.size()));
    if (in_a.gcount() != in_b.gcount() ||
        std::memcmp(buffer_a.data(), buffer_b.data(), size_t(in_a.gcount())) != 0)
      return false;
  }
  return true;
}

// Files, directories and symlinks below root, relative.
std::vector<fs::path> tree(const fs::path& root) {
  std::vector<fs::path> entries;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    entries.push_back(fs::relative(entry.path(), root));
  std::sort(entries.begin(), entries.end());
  return entries;
}

// The runtime's temporary mount points and extractions must be gone once the app has exited.
QStringList leftovers(const fs::path& tmp) {
  return QDir(path_string(tmp)).entryList({".mount_*", "appimage_extracted_*"}, QDir::Dirs | QDir::Hidden);
}
}  // namespace

class TestAppImage : public QObject {
  Q_OBJECT

 private:
  QByteArray reference_text_;

  QStringList transcribe_arguments() const {
    using npuscribe::test::fixture;
    return {"transcribe",
            "--model",
            path_string(fixture("ggml-tiny.en-random.bin")),
            "--beam",
            "1",
            "--temperature-increment",
            "0",
            path_string(fixture("jfk.wav"))};
  }

 private slots:
  void initTestCase() { QVERIFY2(fs::is_regular_file(appimage()), appimage().c_str()); }

  void type_2_layout() {
    const fs::path image = appimage();
    const QByteArray header = read_bytes(image, 0, 64);
    QVERIFY(
        header.startsWith("\x7f"
                          "ELF"));
    QCOMPARE(static_cast<int>(header[4]), 2);  // ELFCLASS64
    QCOMPARE(header.mid(8, 3), QByteArray("AI\x02", 3));
    // The image starts at the end of the section header table: e_shoff + e_shnum * e_shentsize.
    const auto section_headers = little_endian<std::uint64_t>(header, 0x28);
    const auto entry_size = little_endian<std::uint16_t>(header, 0x3a);
    const auto entry_count = little_endian<std::uint16_t>(header, 0x3c);
    const std::uint64_t offset = section_headers + std::uint64_t(entry_count) * entry_size;
    QCOMPARE(read_bytes(image, offset, 4), QByteArray("hsqs"));

    QProcessEnvironment empty;
    RunResult printed = run(path_string(image), {"--appimage-offset"}, empty);
    QCOMPARE(printed.exit_code, 0);
    QCOMPARE(printed.out.trimmed().toULongLong(), offset);

    RunResult sections = run("readelf", {"-S", "-W", path_string(image)});
    QVERIFY(sections.out.contains(" .upd_info "));
    QVERIFY(sections.out.contains(" .sha256_sig "));
    RunResult update_information = run(path_string(image), {"--appimage-updateinformation"}, empty);
    QCOMPARE(update_information.exit_code, 0);
    QCOMPARE(update_information.out.trimmed(), QByteArray());  // no update transport configured

    // The runtime needs nothing from the host but glibc (ours) or nothing at all (upstream's, static).
    RunResult dynamic = run("readelf", {"-d", "-W", path_string(image)});
    QCOMPARE(dynamic.out.count("(NEEDED)"), dynamic.out.count("Shared library: [libc.so.6]"));
  }

  void size_goal() {
    const double size_mb = double(fs::file_size(appimage())) / 1e6;
    qInfo().noquote() << QString("AppImage size: %1 MB (goal <= 120 MB)").arg(size_mb, 0, 'f', 1);
    QVERIFY(size_mb <= 120.0);
  }

  void extract_reproduces_the_appdir() {
    npuscribe::test::TempDir work;
    RunResult extract =
        run(path_string(appimage()), {"--appimage-extract"}, QProcessEnvironment(), path_string(work.path()));
    QVERIFY2(extract.exit_code == 0, extract.err.constData());
    const fs::path extracted = work.path() / "squashfs-root";
    const std::vector<fs::path> entries = tree(appdir());
    QCOMPARE(tree(extracted), entries);
    int regular_files = 0;
    for (const fs::path& entry : entries) {
      const fs::path original = appdir() / entry, copy = extracted / entry;
      const auto status = fs::symlink_status(original);
      QCOMPARE(int(fs::symlink_status(copy).type()), int(status.type()));
      if (fs::is_symlink(status)) {
        QCOMPARE(fs::read_symlink(copy), fs::read_symlink(original));
      } else if (fs::is_regular_file(status)) {
        QVERIFY2(same_file_contents(original, copy), entry.c_str());
        QCOMPARE(int(fs::status(copy).permissions() & fs::perms::owner_exec),
                 int(status.permissions() & fs::perms::owner_exec));
        ++regular_files;
      }
    }
    QVERIFY(regular_files > 100);

    // With a pattern, only the matching entries.
    npuscribe::test::TempDir partial;
    RunResult some = run(path_string(appimage()), {"--appimage-extract", "usr/share/metainfo/*"},
                         QProcessEnvironment(), path_string(partial.path()));
    QCOMPARE(some.exit_code, 0);
    QVERIFY(!fs::exists(partial.path() / "squashfs-root/AppRun"));
    QStringList metainfo =
        QDir(path_string(partial.path() / "squashfs-root/usr/share/metainfo")).entryList(QDir::Files);
    QCOMPARE(metainfo.size(), 1);
  }

  void transcribe_from_the_image_data() {
    QTest::addColumn<bool>("use_fuse");
    QTest::newRow("extract-and-run") << false;
    QTest::newRow("fuse") << true;
  }

  void transcribe_from_the_image() {
    QFETCH(bool, use_fuse);
    QString why;
    if (use_fuse && !fuse_mount_works(&why)) QSKIP(qPrintable(why));
    if (reference_text_.isEmpty()) {
      npuscribe::test::TempDir home;
      RunResult reference = run(NPUSCRIBE_CLI_PATH, transcribe_arguments(), clean_environment(home.path()));
      QVERIFY2(reference.exit_code == 0, reference.err.constData());
      reference_text_ = reference.out;
      QVERIFY(!reference_text_.trimmed().isEmpty());
    }
    npuscribe::test::TempDir home;  // HOME and TMPDIR: where the runtime mounts or extracts
    QStringList arguments = transcribe_arguments();
    if (!use_fuse) arguments.prepend("--appimage-extract-and-run");
    RunResult from_image = run(path_string(appimage()), arguments, clean_environment(home.path()));
    QVERIFY2(from_image.exit_code == 0, from_image.err.constData());
    QCOMPARE(from_image.out, reference_text_);
    if (use_fuse) QVERIFY2(!from_image.err.contains("FUSE is not available"), from_image.err.constData());
    // The mount point or the extraction is removed after the app exits (the FUSE server a moment later).
    for (int i = 0; i < 50 && !leftovers(home.path()).isEmpty(); ++i) QThread::msleep(100);
    QVERIFY2(leftovers(home.path()).isEmpty(), qPrintable(leftovers(home.path()).join(' ')));
  }

  void runs_from_a_path_with_spaces() {
    // The spec: must work with blanks in its own path and file name.
    npuscribe::test::TempDir home;
    const fs::path directory = home.path() / "my apps";
    fs::create_directories(directory);
    const fs::path image = directory / "npu scribe.AppImage";
    std::error_code error;
    fs::create_hard_link(appimage(), image, error);
    if (error) fs::copy_file(appimage(), image);
    QString why;
    QStringList modes = {"--appimage-extract-and-run"};
    if (fuse_mount_works(&why)) modes << "";
    for (const QString& mode : modes) {
      QStringList arguments = {"--version"};
      if (!mode.isEmpty()) arguments.prepend(mode);
      RunResult result = run(path_string(image), arguments, clean_environment(home.path()));
      QVERIFY2(result.exit_code == 0, result.err.constData());
      QVERIFY(result.out.startsWith("npuscribe "));
    }
  }

  void exit_status_passes_through() {
    npuscribe::test::TempDir home;
    const QStringList arguments = {"transcribe", "--model", path_string(home.file("missing.bin")),
                                   path_string(npuscribe::test::fixture("jfk.wav"))};
    RunResult reference = run(NPUSCRIBE_CLI_PATH, arguments, clean_environment(home.path()));
    QVERIFY(reference.exit_code != 0);
    RunResult from_image = run(path_string(appimage()), QStringList{"--appimage-extract-and-run"} + arguments,
                               clean_environment(home.path()));
    QCOMPARE(from_image.exit_code, reference.exit_code);
    RunResult unknown =
        run(path_string(appimage()), {"--appimage-no-such-option"}, clean_environment(home.path()));
    QCOMPARE(unknown.exit_code, 1);
    QVERIFY(unknown.err.contains("--appimage-help"));

    // A download cut off inside the image is reported as such, in either mode, without a crash (our
    // runtime; appimagetool's, used when installed, words it differently).
    RunResult help = run(path_string(appimage()), {"--appimage-help"}, clean_environment(home.path()));
    if (!help.out.contains("npuscribe")) return;
    const QByteArray header = read_bytes(appimage(), 0, 64);
    const std::uint64_t offset = little_endian<std::uint64_t>(header, 0x28) +
                                 std::uint64_t(little_endian<std::uint16_t>(header, 0x3c)) *
                                     little_endian<std::uint16_t>(header, 0x3a);
    const fs::path truncated = home.file("truncated.AppImage");
    fs::copy_file(appimage(), truncated);
    fs::resize_file(truncated, offset + (1 << 20));
    for (const QStringList& arguments :
         {QStringList{"--version"}, QStringList{"--appimage-extract-and-run", "--version"}}) {
      RunResult cut = run(path_string(truncated), arguments, clean_environment(home.path()));
      QCOMPARE(cut.exit_code, 1);
      QVERIFY2(cut.err.contains("truncated"), cut.err.constData());
    }
  }
};

QTEST_GUILESS_MAIN(TestAppImage)
#include "test_appimage.moc"
