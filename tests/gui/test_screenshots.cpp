// Screenshots of the main views for the README, saved under docs/: the Files tab with a transcript and
// the queue in its states, the Dictation tab, the Profiling tab fed by a real transcription, and the
// Models dialog, in the light and the dark theme. Runs at device pixel ratio 2 (QT_SCALE_FACTOR=2), so it
// is also the high-DPI check: every grab must come out at twice the logical size.
#include <QtTest>

#include <QComboBox>
#include <QDir>
#include <QStandardPaths>
#include <QTabWidget>
#include <filesystem>
#include <fstream>

#include "files/file_queue.h"
#include "files/file_queue_widget.h"
#include "main_window.h"
#include "models/models_dialog.h"
#include "profiling/profiling_view.h"
#include "test_support.h"
#include "theme.h"
#include "transcript_view.h"

using namespace npuscribe;

namespace {

constexpr int kTimeoutMs = 300'000;

QString q(const std::filesystem::path& path) {
  return QString::fromStdString(std::filesystem::weakly_canonical(path).string());
}

}  // namespace

class TestScreenshots : public QObject {
  Q_OBJECT

  std::unique_ptr<test::TempDir> dir_;
  std::unique_ptr<ui::MainWindow> window_;
  QDir docs_{QStringLiteral(NPUSCRIBE_SOURCE_DIR "/docs")};

  void save(QWidget* widget, const QString& name) {
    QTest::qWait(150);  // queued layout and paint events settle
    const QPixmap pixmap = widget->grab();
    QCOMPARE(pixmap.devicePixelRatio(), 2.0);
    QCOMPARE(pixmap.size(), widget->size() * 2);
    const QString path = docs_.filePath(name);
    QVERIFY2(pixmap.save(path, "PNG"), qPrintable(path));
    qInfo("saved %s (%dx%d)", qPrintable(path), pixmap.width(), pixmap.height());
  }

  void shoot_all(const QString& theme) {
    window_->tabs()->setCurrentWidget(window_->files_page());
    save(window_.get(), QString("files-%1.png").arg(theme));
    window_->tabs()->setCurrentIndex(1);
    save(window_.get(), QString("dictation-%1.png").arg(theme));
    window_->tabs()->setCurrentIndex(2);
    const QStringList panels = {"latency", "tiles", "accuracy"};
    for (int panel = 0; panel < panels.size(); ++panel) {
      window_->profiling_view()->tabs()->setCurrentIndex(panel);
      window_->profiling_view()->refresh_now();
      // The latency panel keeps the plain name the README links to.
      save(window_.get(), panel == 0 ? QString("profiling-%1.png").arg(theme)
                                     : QString("profiling-%1-%2.png").arg(panels[panel], theme));
    }
    window_->profiling_view()->tabs()->setCurrentIndex(0);
    window_->tabs()->setCurrentWidget(window_->files_page());
    ui::ModelsDialog dialog(window_.get());
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    save(&dialog, QString("models-%1.png").arg(theme));
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("npuscribe-test");
    QCoreApplication::setApplicationName("test_screenshots");
    QSettings().clear();
    dir_ = std::make_unique<test::TempDir>();
    // One "installed" model so the dialog shows both states.
    const auto models = dir_->file("models");
    std::filesystem::create_directories(models);
    std::filesystem::copy_file(test::fixture("ggml-tiny.en-random.bin"), models / "ggml-tiny.en.bin");
    qputenv("NPUSCRIBE_MODELS_DIR", models.string().c_str());
    qunsetenv("NPUSCRIBE_MODEL");
    QVERIFY(docs_.exists() || QDir().mkpath(docs_.path()));
    ui::apply_theme(ui::ThemeChoice::light);
    window_ = std::make_unique<ui::MainWindow>();
    window_->resize(1100, 680);
    window_->show();
    QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
    QVERIFY(window_->load_model(q(models / "ggml-tiny.en.bin")));
    TranscribeOptions options;
    options.beam_size = 1;
    options.temperatures = {0.0f};
    window_->set_transcribe_options(options);
  }

  void cleanupTestCase() {
    window_.reset();
    dir_.reset();
  }

  void empty_window() {
    save(window_.get(), "welcome-light.png");  // the first run: the drop area
  }

  void fill_the_queue() {
    // A finished file (its transcript shown), a file that cannot be read, one transcribed on the NPU
    // emulator and compared with the CPU (the profiling panels' data), and one still running.
    QSignalSpy finished(window_.get(), &ui::MainWindow::transcription_finished);
    const auto audio_dir = dir_->file("recordings");
    std::filesystem::create_directories(audio_dir);
    std::filesystem::copy_file(test::fixture("jfk.wav"), audio_dir / "jfk-inaugural.wav");
    std::filesystem::copy_file(test::fixture("jfk.wav"), audio_dir / "jfk-on-the-npu.wav");
    window_->backend_combo()->setCurrentIndex(window_->backend_combo()->findText("CPU"));
    window_->add_paths({q(audio_dir / "jfk-inaugural.wav")});
    QVERIFY(finished.wait(kTimeoutMs));
    std::ofstream(audio_dir / "meeting-notes.m4a") << "a text file with an audio name\n";
    window_->add_paths({q(audio_dir / "meeting-notes.m4a")});
    QVERIFY(finished.wait(kTimeoutMs));

    window_->backend_combo()->setCurrentIndex(window_->backend_combo()->findText("NPU emulator"));
    window_->add_paths({q(audio_dir / "jfk-on-the-npu.wav")});
    QVERIFY(finished.wait(kTimeoutMs));
    window_->queue_widget()->set_current(window_->queue()->ids().back());
    QSignalSpy compared(window_->queue(), &ui::FileQueue::comparison_ready);
    QVERIFY(window_->compare_current_with_cpu());
    QVERIFY(compared.wait(kTimeoutMs));

    std::string command = "sox";
    for (int copy = 0; copy < 6; ++copy) command += " " + test::fixture("jfk.wav").string();
    command += " " + (audio_dir / "interview-part-2.flac").string();
    QCOMPARE(std::system(command.c_str()), 0);
    window_->add_paths({q(audio_dir / "interview-part-2.flac")});
    const ui::QueueEntry* running = window_->queue()->entry(window_->queue()->ids().back());
    QTRY_VERIFY_WITH_TIMEOUT(running->fraction > 0.0, kTimeoutMs);
    window_->queue_widget()->set_current(window_->queue()->ids().front());
    QVERIFY(window_->transcript_view()->segment_count() > 0);
  }

  void light_theme() {
    window_->set_theme(ui::ThemeChoice::light);
    shoot_all("light");
  }

  void dark_theme() {
    window_->set_theme(ui::ThemeChoice::dark);
    shoot_all("dark");
    window_->queue()->cancel_all();
  }
};

int main(int argc, char** argv) {
  qputenv("QT_SCALE_FACTOR", "2");  // before the QApplication exists
  QApplication application(argc, argv);
  TestScreenshots test;
  QTEST_SET_MAIN_SOURCE_PATH
  return QTest::qExec(&test, argc, argv);
}

#include "test_screenshots.moc"
