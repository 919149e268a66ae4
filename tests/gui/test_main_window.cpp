// The first desktop window, driven through its public API on the offscreen platform: model loading, a
// transcription on the worker thread, the error paths, and a screenshot saved to the build directory.
#include <QtTest>

#include <QDir>
#include <QLabel>
#include <QPixmap>
#include <QSignalSpy>
#include <filesystem>
#include <fstream>

#include "main_window.h"
#include "model/whisper_model.h"
#include "test_support.h"
#include "util/error.h"

using namespace npuscribe;

namespace {

// The window transcribes with the engine's defaults (greedy, then Whisper's temperature fallback with five
// sampled candidates per temperature). With the random-weight fixture every window falls back all the way,
// which takes ~40 s of CPU for jfk.wav on 2 cores, so 60 s is too tight on a loaded machine.
constexpr int kTranscriptionTimeoutMs = 180'000;

// Canonical, so the transcript (and the screenshot) shows a clean path.
QString q(const std::filesystem::path& path) {
  return QString::fromStdString(std::filesystem::weakly_canonical(path).string());
}

}  // namespace

class TestMainWindow : public QObject {
  Q_OBJECT

  std::unique_ptr<ui::MainWindow> window_;
  QString model_path_ = q(test::fixture("ggml-tiny.en-random.bin"));
  QString jfk_ = q(test::fixture("jfk.wav"));

 private slots:
  void initTestCase() {
    qunsetenv("NPUSCRIBE_MODEL");  // the window would load it on construction
    QVERIFY2(QFileInfo::exists(model_path_), qPrintable(model_path_));
    window_ = std::make_unique<ui::MainWindow>();
    window_->show();
    QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
  }

  void cleanupTestCase() { window_.reset(); }

  void transcribing_without_a_model_asks_for_one() {
    QVERIFY(!window_->is_busy());
    window_->transcribe_files({jfk_});
    QVERIFY(!window_->is_busy());
    QVERIFY2(window_->status_text().contains("model", Qt::CaseInsensitive),
             qPrintable(window_->status_text()));
    QVERIFY(window_->transcript_text().isEmpty());
  }

  void load_model_succeeds() {
    QVERIFY(window_->load_model(model_path_));
    const auto labels = window_->findChildren<QLabel*>();
    bool mentioned = false;
    for (const QLabel* label : labels) mentioned |= label->text().contains("ggml-tiny.en-random.bin");
    QVERIFY2(mentioned, "no label names the loaded model file");
    QVERIFY2(!window_->status_text().isEmpty(), "status should say the window is ready");
  }

  void load_missing_model_fails_with_the_reason() {
    const QString missing = "/no/such/dir/ggml-missing.bin";
    QString expected_error;
    try {
      WhisperModel::load(missing.toStdString());
    } catch (const Error& error) {
      expected_error = QString::fromStdString(error.what());
    }
    QVERIFY2(!expected_error.isEmpty(), "loading a missing model should throw npuscribe::Error");
    QVERIFY(!window_->load_model(missing));
    QVERIFY2(window_->status_text().contains(expected_error),
             qPrintable(QStringLiteral("status: '%1'\nexpected it to contain: '%2'")
                            .arg(window_->status_text(), expected_error)));
  }

  void transcribes_a_wav_file() {
    QSignalSpy finished(window_.get(), &ui::MainWindow::transcription_finished);
    window_->transcribe_files({jfk_});
    QVERIFY(window_->is_busy());
    window_->transcribe_files({jfk_});  // while busy: refused with a message, not queued or crashed
    QVERIFY2(window_->status_text().contains("Still transcribing"), qPrintable(window_->status_text()));
    QVERIFY2(finished.wait(kTranscriptionTimeoutMs), "no transcription_finished within the timeout");
    QCOMPARE(finished.count(), 1);
    QVERIFY(!window_->is_busy());
    const QString transcript = window_->transcript_text();
    const int header = transcript.indexOf("jfk.wav");
    QVERIFY2(header >= 0, qPrintable(transcript));
    QVERIFY2(!transcript.mid(header + 8).trimmed().isEmpty(), qPrintable(transcript));
    QVERIFY2(!transcript.contains("Could not transcribe"), qPrintable(transcript));
  }

  void non_wav_file_shows_an_error() {
    test::TempDir dir;
    const auto text_file = dir.file("x.wav");
    std::ofstream(text_file) << "this is a text file, not audio\n";
    QSignalSpy finished(window_.get(), &ui::MainWindow::transcription_finished);
    window_->transcribe_files({q(text_file)});
    QVERIFY2(finished.wait(kTranscriptionTimeoutMs), "no transcription_finished within the timeout");
    QVERIFY(!window_->is_busy());
    const QString transcript = window_->transcript_text();
    QVERIFY2(transcript.contains("Could not transcribe"), qPrintable(transcript));
    QVERIFY2(transcript.contains("x.wav"), qPrintable(transcript));
    QVERIFY2(transcript.contains("jfk.wav"), "the earlier transcript should still be there");
  }

  void screenshot() {
    QTest::qWait(50);  // let queued paints settle
    const QPixmap pixmap = window_->grab();
    QVERIFY(!pixmap.isNull());
    const QString path = QDir(QDir::currentPath()).filePath("test_main_window.png");
    QVERIFY2(pixmap.save(path, "PNG"), qPrintable(path));
    qInfo("screenshot: %s", qPrintable(path));
    const QImage image(path);
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), window_->size() * pixmap.devicePixelRatio());
  }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
