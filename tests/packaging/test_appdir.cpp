// The AppDir inside the AppImage: every library an ELF file needs is bundled or on the exclude list, the
// Qt plugins and qt.conf are there, and the desktop file, icons and AppStream metadata validate.
#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QSet>
#include <QVersionNumber>
#include <QtTest>
#include <filesystem>

#include "packaging_support.h"
#include "test_support.h"

using namespace npuscribe::packaging_test;
namespace fs = std::filesystem;

class TestAppDir : public QObject {
  Q_OBJECT

 private:
  QStringList excluded_;
  std::vector<fs::path> elf_files_;
  QString lib_dir_;
  QSet<QString> needed_;  // every NEEDED entry of every ELF file in the AppDir

  static QStringList needed_of(const fs::path& file) {
    RunResult readelf = run("readelf", {"-d", "-W", QString::fromStdString(file.string())});
    static const QRegularExpression needed(R"(\(NEEDED\)\s+Shared library: \[([^\]]+)\])");
    QStringList names;
    for (auto match = needed.globalMatch(QString::fromUtf8(readelf.out)); match.hasNext();)
      names << match.next().captured(1);
    return names;
  }

  QProcessEnvironment app_run_environment() const {
    // What AppRun exports, on top of the caller's environment.
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert("LD_LIBRARY_PATH", lib_dir_);
    return environment;
  }

 private slots:
  void initTestCase() {
    QVERIFY2(fs::is_directory(appdir()), appdir().c_str());
    excluded_ = exclude_patterns();
    QVERIFY2(excluded_.contains("libc.so.6") && excluded_.contains("libstdc++.so.6"),
             "packaging/excludelist.txt could not be read");
    lib_dir_ = QString::fromStdString((appdir() / "usr/lib").string());
    elf_files_ = elf_files(appdir());
    // The binary, 30-odd Qt plugins and well over 100 libraries.
    QVERIFY2(elf_files_.size() > 100, qPrintable(QString::number(elf_files_.size())));
    for (const fs::path& file : elf_files_)
      for (const QString& name : needed_of(file)) needed_.insert(name);
  }

  void needed_libraries_are_bundled_or_excluded() {
    QStringList failures;
    for (const fs::path& file : elf_files_) {
      for (const QString& soname : needed_of(file)) {
        if (QFile::exists(lib_dir_ + "/" + soname) || is_excluded(soname, excluded_)) continue;
        failures << QString::fromStdString(fs::relative(file, appdir()).string()) + " needs " + soname;
      }
    }
    QVERIFY2(failures.isEmpty(), qPrintable(failures.join('\n')));
  }

  void ldd_resolves_inside_the_appdir_under_the_app_run_environment() {
    QStringList failures;
    const QString appdir_prefix = QString::fromStdString(appdir().string()) + "/";
    static const QRegularExpression line(R"(^\s*(\S+) => (.*?)(?: \(0x[0-9a-f]+\))?$)");
    for (const fs::path& file : elf_files_) {
      RunResult ldd = run("ldd", {QString::fromStdString(file.string())}, app_run_environment());
      const QString name = QString::fromStdString(fs::relative(file, appdir()).string());
      if (ldd.exit_code != 0) {
        failures << name + ": ldd failed: " + QString::fromUtf8(ldd.err);
        continue;
      }
      for (const QString& text : QString::fromUtf8(ldd.out).split('\n')) {
        auto match = line.match(text);
        if (!match.hasMatch()) continue;
        const QString soname = match.captured(1);
        const QString target = match.captured(2);
        const bool excluded = is_excluded(soname, excluded_);
        if (target == "not found") {
          // Host-only libraries (XRT) may be missing on this machine; nothing else may.
          if (!excluded) failures << name + ": " + soname + " not found";
        } else if (excluded && target.startsWith(appdir_prefix)) {
          failures << name + ": excluded " + soname + " resolved inside the AppDir";
        } else if (!excluded && !target.startsWith(appdir_prefix) && needed_.contains(soname)) {
          // Host libraries bring their own dependencies (libxcb -> libXau); ours must not come from the host.
          failures << name + ": " + soname + " resolved from the host (" + target + ")";
        }
      }
    }
    QVERIFY2(failures.isEmpty(), qPrintable(failures.join('\n')));
  }

  void nothing_on_the_exclude_list_is_bundled() {
    QStringList bundled_but_excluded;
    for (const QString& name : QDir(lib_dir_).entryList(QDir::Files))
      if (is_excluded(name, excluded_)) bundled_but_excluded << name;
    QVERIFY2(bundled_but_excluded.isEmpty(), qPrintable(bundled_but_excluded.join(' ')));
    // The libraries the issue names explicitly come from the host.
    for (const char* host_library :
         {"libc.so.6", "libGL.so.1", "libEGL.so.1", "libasound.so.2", "libX11.so.6", "libxcb.so.1",
          "libwayland-client.so.0", "libfontconfig.so.1", "libfreetype.so.6", "libxrt_coreutil.so.2"}) {
      QVERIFY2(is_excluded(host_library, excluded_), host_library);
    }
  }

  void the_required_libraries_and_plugins_are_bundled() {
    for (const char* library :
         {"libQt6Core.so.6", "libQt6Gui.so.6", "libQt6Widgets.so.6", "libQt6XcbQpa.so.6",
          "libQt6WaylandClient.so.6", "libavcodec.so.59", "libavformat.so.59", "libfftw3f.so.3",
          "libopenblas.so.0", "libgomp.so.1", "libgfortran.so.5", "libcurl.so.4", "libxkbcommon-x11.so.0",
          "libxcb-icccm.so.4", "libXtst.so.6"}) {
      QVERIFY2(QFile::exists(lib_dir_ + "/" + library), library);
    }
    const fs::path plugins = appdir() / "usr/plugins";
    for (const char* plugin :
         {"platforms/libqxcb.so", "platforms/libqwayland-generic.so", "platforms/libqoffscreen.so",
          "wayland-shell-integration/libxdg-shell.so", "xcbglintegrations/libqxcb-glx-integration.so",
          "imageformats/libqsvg.so", "imageformats/libqjpeg.so", "iconengines/libqsvgicon.so",
          "platformthemes/libqgtk3.so", "platforminputcontexts/libcomposeplatforminputcontextplugin.so"}) {
      QVERIFY2(fs::is_regular_file(plugins / plugin), plugin);
    }
    // The OpenMP build of OpenBLAS (one thread team with the app's own loops), not the pthread one.
    RunResult readelf = run("readelf", {"-d", lib_dir_ + "/libopenblas.so.0"});
    QVERIFY2(readelf.out.contains("libgomp.so.1"), "bundled OpenBLAS is not the OpenMP build");
  }

  void qt_conf_and_app_run_point_into_the_appdir() {
    QFile qt_conf(QString::fromStdString((appdir() / "usr/bin/qt.conf").string()));
    QVERIFY(qt_conf.open(QIODevice::ReadOnly));
    const QByteArray conf = qt_conf.readAll();
    QVERIFY(conf.contains("[Paths]"));
    QVERIFY(QRegularExpression(R"(Prefix\s*=\s*\.\.)").match(QString::fromUtf8(conf)).hasMatch());
    QVERIFY(QRegularExpression(R"(Plugins\s*=\s*plugins)").match(QString::fromUtf8(conf)).hasMatch());

    const fs::path app_run = appdir() / "AppRun";
    QVERIFY(fs::is_regular_file(app_run));
    QVERIFY((fs::status(app_run).permissions() & fs::perms::owner_exec) != fs::perms::none);
    // AppRun alone (no runtime, no PATH, no APPDIR) starts the bundled binary.
    QProcessEnvironment empty;
    RunResult version = run(QString::fromStdString(app_run.string()), {"--version"}, empty);
    QCOMPARE(version.exit_code, 0);
    QVERIFY2(version.out.startsWith("npuscribe "), version.out.constData());
  }

  void wayland_plugin_is_found_in_the_appdir_and_loads() {
    // No compositor here: the bundled plugin must be the one Qt picks (qt.conf, QT_PLUGIN_PATH), never a
    // plugin of the host's Qt, and must load far enough to try connecting.
    npuscribe::test::TempDir home;
    QProcessEnvironment environment = clean_environment(home.path());
    environment.insert("QT_QPA_PLATFORM", "wayland");
    environment.insert("QT_DEBUG_PLUGINS", "1");
    environment.insert("XDG_RUNTIME_DIR", QString::fromStdString(home.path().string()));
    environment.insert("WAYLAND_DISPLAY", "npuscribe-test-no-compositor");
    RunResult result =
        run(QString::fromStdString((appdir() / "AppRun").string()), {}, environment, {}, 60000);
    const QString plugins = QString::fromStdString((appdir() / "usr/plugins").string());
    QVERIFY2(
        result.err.contains(("looking at \"" + plugins + "/platforms/libqwayland-generic.so\"").toUtf8()),
        result.err.constData());
    QVERIFY2(!result.err.contains("looking at \"/usr/lib"), "a plugin of the host's Qt was considered");
    QVERIFY2(result.err.contains("Failed to create wl_display"), result.err.constData());
  }

  void app_run_uses_fallback_libraries_only_where_the_host_lacks_them() {
    // AppRun's own logic on a stand-in AppDir whose "binary" prints the library path it was given.
    for (const bool host_has_it : {true, false}) {
      npuscribe::test::TempDir stand_in;
      const fs::path root = stand_in.path();
      fs::create_directories(root / "usr/bin");
      fs::create_directories(root / "usr/lib/fallback");
      fs::copy_file(appdir() / "AppRun", root / "AppRun");
      // libc.so.6 is on every host; the other name on none.
      const char* library = host_has_it ? "libc.so.6" : "libnpuscribe-test-absent.so.0";
      QFile(QString::fromStdString((root / "usr/lib/fallback" / library).string()))
          .open(QIODevice::WriteOnly);
      QFile binary(QString::fromStdString((root / "usr/bin/npuscribe").string()));
      QVERIFY(binary.open(QIODevice::WriteOnly));
      binary.write("#!/bin/sh\nprintf '%s' \"$LD_LIBRARY_PATH\"\n");
      binary.close();
      fs::permissions(root / "usr/bin/npuscribe", fs::perms::owner_all);
      QProcessEnvironment environment;
      environment.insert("APPDIR", QString::fromStdString(root.string()));
      RunResult result = run(QString::fromStdString((root / "AppRun").string()), {}, environment);
      QCOMPARE(result.exit_code, 0);
      const QString lib = QString::fromStdString((root / "usr/lib").string());
      QCOMPARE(QString::fromUtf8(result.out), host_has_it ? lib : lib + ":" + lib + "/fallback");
    }
    // What the image carries there is on the exclude list (it is the host's library, after all).
    const fs::path fallback = appdir() / "usr/lib/fallback";
    if (fs::exists(fallback)) {
      for (const auto& entry : fs::directory_iterator(fallback)) {
        QVERIFY2(is_excluded(QString::fromStdString(entry.path().filename().string()), excluded_),
                 entry.path().c_str());
      }
    }
  }

  void desktop_file_icons_and_metainfo_validate() {
    QStringList desktop_files =
        QDir(QString::fromStdString(appdir().string())).entryList({"*.desktop"}, QDir::Files);
    QCOMPARE(desktop_files.size(), 1);  // the spec: exactly one at the root
    const QString desktop = QString::fromStdString(appdir().string()) + "/" + desktop_files.first();
    RunResult validate = run("desktop-file-validate", {desktop});
    QVERIFY2(validate.exit_code == 0, validate.out + validate.err);

    QFile desktop_file(desktop);
    QVERIFY(desktop_file.open(QIODevice::ReadOnly));
    auto icon_match = QRegularExpression(R"(^Icon=(\S+)$)", QRegularExpression::MultilineOption)
                          .match(QString::fromUtf8(desktop_file.readAll()));
    QVERIFY(icon_match.hasMatch());
    const std::string icon = icon_match.captured(1).toStdString();
    for (int size : {16, 24, 32, 48, 64, 128, 256, 512}) {
      const std::string dims = std::to_string(size) + "x" + std::to_string(size);
      auto png = png_size(appdir() / "usr/share/icons/hicolor" / dims / "apps" / (icon + ".png"));
      QVERIFY2(png.has_value(), dims.c_str());
      QCOMPARE(png->first, size);
      QCOMPARE(png->second, size);
    }
    QVERIFY(fs::is_regular_file(appdir() / "usr/share/icons/hicolor/scalable/apps" / (icon + ".svg")));
    auto dir_icon = png_size(appdir() / ".DirIcon");  // the spec: a 256x256 PNG
    QVERIFY(dir_icon.has_value());
    QCOMPARE(dir_icon->first, 256);
    QVERIFY(png_size(appdir() / (icon + ".png")).has_value());

    QStringList metainfo = QDir(QString::fromStdString((appdir() / "usr/share/metainfo").string()))
                               .entryList({"*.metainfo.xml"}, QDir::Files);
    QCOMPARE(metainfo.size(), 1);
    const QString metainfo_path =
        QString::fromStdString((appdir() / "usr/share/metainfo").string()) + "/" + metainfo.first();
    RunResult appstream = run("appstreamcli", {"validate", "--no-net", metainfo_path});
    QVERIFY2(appstream.exit_code == 0, appstream.out + appstream.err);
    QFile metainfo_file(metainfo_path);
    QVERIFY(metainfo_file.open(QIODevice::ReadOnly));
    QVERIFY(metainfo_file.readAll().contains("<launchable type=\"desktop-id\">" +
                                             desktop_files.first().toUtf8()));
  }

  void glibc_and_libstdcxx_versions_needed() {
    // Not a pass/fail target: the newest symbol versions decide the oldest host that can run the image.
    QString newest_glibc = "GLIBC_2.0", newest_glibcxx = "GLIBCXX_3.4";
    static const QRegularExpression version(R"((GLIBC|GLIBCXX)_(\d+(?:\.\d+)*))");
    auto newer = [](const QString& a, const QString& b) {
      return QVersionNumber::fromString(a.section('_', 1)) > QVersionNumber::fromString(b.section('_', 1));
    };
    for (const fs::path& file : elf_files_) {
      RunResult readelf = run("readelf", {"-V", "-W", QString::fromStdString(file.string())});
      for (auto match = version.globalMatch(QString::fromUtf8(readelf.out)); match.hasNext();) {
        auto m = match.next();
        QString& newest = m.captured(1) == "GLIBC" ? newest_glibc : newest_glibcxx;
        if (newer(m.captured(0), newest)) newest = m.captured(0);
      }
    }
    qInfo().noquote() << "newest symbol versions needed:" << newest_glibc << newest_glibcxx;
    // Debian 12's GCC 12 runtime; every supported host (Ubuntu 22.04 has GCC 12's libstdc++) provides it.
    QVERIFY2(!newer(newest_glibcxx, "GLIBCXX_3.4.30"), qPrintable(newest_glibcxx));
  }
};

QTEST_GUILESS_MAIN(TestAppDir)
#include "test_appdir.moc"
