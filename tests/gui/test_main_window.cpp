// The main window on the offscreen platform: model loading and its errors, the selectors (backend items,
// languages), keyboard shortcuts, settings that survive a restart (QSettings in QStandardPaths' test
// mode), themes, and a layout that still fits at 800x500.
#include <QtTest>

#include <QAction>
#include <QComboBox>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTabWidget>
#include <QToolBar>
#include <fstream>

#include "backend/npu/xrt/xrt_device.h"
#include "dictation/dictation_controller.h"
#include "files/file_queue.h"
#include "main_window.h"
#include "model/whisper_model.h"
#include "model_writer.h"
#include "settings/app_settings.h"
#include "test_support.h"
#include "theme.h"
#include "util/error.h"

using namespace npuscribe;

namespace {

QString q(const std::filesystem::path& path) {
  return QString::fromStdString(std::filesystem::weakly_canonical(path).string());
}

QAction* action_with_shortcut(QWidget* window, const QKeySequence& shortcut) {
  for (QAction* action : window->findChildren<QAction*>())
    if (action->shortcut() == shortcut) return action;
  return nullptr;
}

}  // namespace

class TestMainWindow : public QObject {
  Q_OBJECT

  std::unique_ptr<test::TempDir> dir_;
  QString model_path_ = q(test::fixture("ggml-tiny.en-random.bin"));

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("npuscribe-test");
    QCoreApplication::setApplicationName("test_main_window");
    QSettings().clear();
    dir_ = std::make_unique<test::TempDir>();
    qputenv("NPUSCRIBE_MODELS_DIR", dir_->file("models").string().c_str());
    qunsetenv("NPUSCRIBE_MODEL");
    ui::apply_theme(ui::ThemeChoice::light);
  }
  void cleanupTestCase() {
    QSettings().clear();
    dir_.reset();
  }

  void settings_round_trip_through_qsettings() {
    const QString path = QString::fromStdString(dir_->file("settings.ini").string());
    ui::AppSettings written;
    written.model_path = "/models/ggml-small.bin";
    written.backend = "npu-sim";
    written.language = "de";
    written.input_device = "USB microphone";
    written.vad_sensitivity = 1;
    written.export_folder = "/tmp/subtitles";
    written.theme = ui::ThemeChoice::dark;
    written.window_geometry = QByteArray("\x01\x02geometry", 10);
    written.window_state = QByteArray("state");
    written.local_models = {"/a/ggml-one.bin", "/b/ggml-two.bin"};
    {
      QSettings settings(path, QSettings::IniFormat);
      written.save(settings);
    }
    QSettings settings(path, QSettings::IniFormat);
    const ui::AppSettings read = ui::AppSettings::load(settings);
    QVERIFY(read == written);
    QCOMPARE(read.backend, QString("npu-sim"));
    QCOMPARE(int(read.theme), int(ui::ThemeChoice::dark));
    // Out-of-range values from a hand-edited file are clamped, unknown themes fall back to system.
    settings.setValue("dictation/vad_sensitivity", 9);
    settings.setValue("ui/theme", "purple");
    const ui::AppSettings clamped = ui::AppSettings::load(settings);
    QCOMPARE(clamped.vad_sensitivity, 3);
    QCOMPARE(int(clamped.theme), int(ui::ThemeChoice::system));
    // Defaults when nothing is stored.
    QSettings empty(QString::fromStdString(dir_->file("empty.ini").string()), QSettings::IniFormat);
    QVERIFY(ui::AppSettings::load(empty) == ui::AppSettings());
  }

  void without_a_model_files_wait_and_the_status_says_so() {
    ui::MainWindow window;
    QVERIFY(!window.model());
    QVERIFY2(window.status_text().contains("model", Qt::CaseInsensitive), qPrintable(window.status_text()));
    window.add_paths({q(test::fixture("jfk.wav"))});
    QVERIFY(!window.is_busy());
    QCOMPARE(window.queue()->pending_count(), 1);
    QVERIFY2(window.status_text().contains("waiting for a model"), qPrintable(window.status_text()));
    window.queue()->cancel_all();
    QCOMPARE(window.queue()->pending_count(), 0);
  }

  void dropped_folder_queues_its_files() {
    ui::MainWindow window;
    const auto folder = dir_->file("album");
    std::filesystem::create_directories(folder / "nested");
    for (const char* name : {"b-second.mp3", "a-first.wav", "nested/c-deeper.wav", "ggml-model.bin"})
      std::ofstream(folder / name) << "x";
    window.add_paths({q(folder)});
    QCOMPARE(window.queue()->pending_count(), 2);  // no model yet: both wait
    const auto ids = window.queue()->ids();
    QCOMPARE(window.queue()->entry(ids[0])->path, q(folder / "a-first.wav"));
    QCOMPARE(window.queue()->entry(ids[1])->path, q(folder / "b-second.mp3"));
    window.queue()->cancel_all();
  }

  void missing_model_fails_with_the_loader_message() {
    ui::MainWindow window;
    const QString missing = "/no/such/dir/ggml-missing.bin";
    QString expected;
    try {
      WhisperModel::load(missing.toStdString());
    } catch (const Error& error) {
      expected = QString::fromUtf8(error.what());
    }
    QVERIFY(!expected.isEmpty());
    QVERIFY(!window.load_model(missing));
    QCOMPARE(window.status_text(), expected);
    QVERIFY(!window.model());
  }

  void model_and_selectors() {
    ui::MainWindow window;
    QVERIFY(window.load_model(model_path_));
    QCOMPARE(window.model_combo()->currentData().toString(), model_path_);
    QCOMPARE(window.model_combo()->currentText(), QString("ggml-tiny.en-random.bin"));
    // English-only model: the language selector is disabled and says why.
    QVERIFY(!window.language_combo()->isEnabled());
    QCOMPARE(window.language_combo()->count(), 1);
    // Backends: Auto, CPU, NPU, NPU emulator. There is no NPU here, so the NPU item is disabled with the
    // factory's reason (the probe runs off the GUI thread).
    QStringList labels;
    for (int i = 0; i < window.backend_combo()->count(); ++i) labels << window.backend_combo()->itemText(i);
    QCOMPARE(labels, QStringList({"Auto", "CPU", "NPU", "NPU emulator"}));
    auto* items = qobject_cast<QStandardItemModel*>(window.backend_combo()->model());
    QVERIFY(items);
    std::string why_unavailable;
    if (open_xrt_device(XrtDeviceOptions::for_model(window.model()->hparams()), &why_unavailable))
      QSKIP("an NPU is usable on this machine; the disabled-item check needs none");
    QVERIFY(!why_unavailable.empty());
    QTRY_COMPARE_WITH_TIMEOUT(items->item(2)->toolTip(),
                              "No usable NPU: " + QString::fromStdString(why_unavailable), 30'000);
    QVERIFY(!items->item(2)->isEnabled());
    QVERIFY(items->item(1)->isEnabled());
  }

  void multilingual_model_lists_whisper_languages() {
    const auto path = dir_->file("ggml-tiny-random.bin");
    test::WriteOptions options;
    options.sparse_data = true;  // zeros: enough for the selector, no disk or time
    test::write_random_model(path, test::official_shape("tiny"), options);
    ui::MainWindow window;
    QVERIFY2(window.load_model(q(path)), qPrintable(window.status_text()));
    QComboBox* languages = window.language_combo();
    QVERIFY(languages->isEnabled());
    const int language_count = window.model()->hparams().language_count();
    QCOMPARE(languages->count(), 1 + language_count);
    QCOMPARE(languages->itemData(0).toString(), QString("auto"));
    QCOMPARE(languages->itemData(1).toString(), QString("en"));  // Whisper's order: en, zh, de, ...
    QCOMPARE(languages->itemData(3).toString(), QString("de"));
    QCOMPARE(languages->itemText(3), QString("German (de)"));
    languages->setCurrentIndex(3);
    QCOMPARE(window.settings().language, QString("de"));
    QCOMPARE(window.queue()->options().language, std::string("de"));
    languages->setCurrentIndex(0);
    QCOMPARE(window.queue()->options().language, std::string());
  }

  void shortcuts_exist() {
    ui::MainWindow window;
    for (const QKeySequence& shortcut :
         {QKeySequence(QKeySequence::Open), QKeySequence(Qt::CTRL | Qt::Key_E),
          QKeySequence(Qt::CTRL | Qt::Key_R), QKeySequence(QKeySequence::Quit),
          QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C), QKeySequence(Qt::CTRL | Qt::Key_P),
          QKeySequence(Qt::CTRL | Qt::Key_M)})
      QVERIFY2(action_with_shortcut(&window, shortcut), qPrintable(shortcut.toString()));
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    // Ctrl+P toggles the profiling tab; Ctrl+R without a model shows the dictation tab and asks for one.
    QCOMPARE(window.tabs()->currentWidget(), window.files_page());
    action_with_shortcut(&window, QKeySequence(Qt::CTRL | Qt::Key_P))->trigger();
    QCOMPARE(window.tabs()->tabText(window.tabs()->currentIndex()), QString("Profiling"));
    action_with_shortcut(&window, QKeySequence(Qt::CTRL | Qt::Key_P))->trigger();
    QCOMPARE(window.tabs()->currentWidget(), window.files_page());
    action_with_shortcut(&window, QKeySequence(Qt::CTRL | Qt::Key_R))->trigger();
    QCOMPARE(window.tabs()->tabText(window.tabs()->currentIndex()), QString("Dictation"));
    QVERIFY(!window.dictation()->isRecording());
    QVERIFY2(window.status_text().contains("model"), qPrintable(window.status_text()));
  }

  void settings_survive_a_restart() {
    {
      ui::MainWindow window;
      window.show();
      QVERIFY(QTest::qWaitForWindowExposed(&window));
      QVERIFY(window.load_model(model_path_));
      window.backend_combo()->setCurrentIndex(1);  // CPU
      window.mutable_settings().export_folder = "/tmp/exports";
      window.mutable_settings().vad_sensitivity = 3;
      window.set_theme(ui::ThemeChoice::dark);
      QVERIFY(ui::theme_is_dark());
      window.resize(900, 560);
      window.close();  // saves
    }
    ui::MainWindow restored;
    QCOMPARE(restored.settings().model_path, model_path_);
    QVERIFY(restored.model());
    QCOMPARE(restored.backend_combo()->currentText(), QString("CPU"));
    QCOMPARE(restored.settings().backend, QString("cpu"));
    QCOMPARE(restored.settings().export_folder, QString("/tmp/exports"));
    QCOMPARE(restored.settings().vad_sensitivity, 3);
    QCOMPARE(int(restored.settings().theme), int(ui::ThemeChoice::dark));
    QCOMPARE(restored.size(), QSize(900, 560));
    restored.set_theme(ui::ThemeChoice::light);
    QVERIFY(!ui::theme_is_dark());
  }

  void themes_differ_and_follow_the_choice() {
    const QPalette light = ui::theme_palette(false), dark = ui::theme_palette(true);
    QVERIFY(light.color(QPalette::Window).lightness() > 200);
    QVERIFY(dark.color(QPalette::Window).lightness() < 60);
    // Text stays readable on both: a wide lightness gap between text and base.
    QVERIFY(std::abs(light.color(QPalette::Text).lightness() - light.color(QPalette::Base).lightness()) >
            150);
    QVERIFY(std::abs(dark.color(QPalette::Text).lightness() - dark.color(QPalette::Base).lightness()) > 150);
    QVERIFY(ui::apply_theme(ui::ThemeChoice::dark));
    QCOMPARE(QApplication::palette().color(QPalette::Window), dark.color(QPalette::Window));
    QVERIFY(!ui::apply_theme(ui::ThemeChoice::light));
    QCOMPARE(QApplication::palette().color(QPalette::Window), light.color(QPalette::Window));
    qputenv("GTK_THEME", "Adwaita:dark");
    QVERIFY(ui::system_prefers_dark());
    QVERIFY(ui::apply_theme(ui::ThemeChoice::system));
    qputenv("GTK_THEME", "Adwaita");
    QVERIFY(!ui::system_prefers_dark());
    qunsetenv("GTK_THEME");
    ui::apply_theme(ui::ThemeChoice::light);
  }

  void fits_at_800_by_500() {
    ui::MainWindow window;
    window.resize(800, 500);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY2(window.minimumSizeHint().width() <= 800 && window.minimumSizeHint().height() <= 500,
             qPrintable(QString("minimum %1x%2")
                            .arg(window.minimumSizeHint().width())
                            .arg(window.minimumSizeHint().height())));
    QCOMPARE(window.size(), QSize(800, 500));
    // The toolbar's essentials stay on screen (not pushed into the overflow menu).
    for (QWidget* widget :
         {static_cast<QWidget*>(window.model_combo()), static_cast<QWidget*>(window.backend_combo())}) {
      QVERIFY(widget->isVisible());
      const QRect in_window(widget->mapTo(&window, QPoint(0, 0)), widget->size());
      QVERIFY2(window.rect().contains(in_window), "a toolbar selector is cut off at 800x500");
    }
  }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
