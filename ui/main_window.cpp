#include "main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>
#include <thread>

#include "audio/audio_file.h"
#include "audio/playback.h"
#include "backend/npu/xrt/xrt_device.h"
#include "dictation/dictation_controller.h"
#include "dictation/dictation_panel.h"
#include "engine/tokenizer.h"
#include "files/export.h"
#include "files/file_queue.h"
#include "files/file_queue_widget.h"
#include "icons.h"
#include "model/model_registry.h"
#include "model/whisper_model.h"
#include "models/models_dialog.h"
#include "profiling/event_bridge.h"
#include "profiling/profiling_view.h"
#include "theme.h"
#include "transcript_view.h"
#include "util/error.h"

namespace npuscribe::ui {
namespace {

const char* const kAudioFilter =
    "Audio and video (*.wav *.flac *.mp3 *.ogg *.oga *.opus *.m4a *.aac *.wma *.webm *.mp4 *.mkv *.mov "
    "*.avi);;All files (*)";

struct BackendItem {
  const char* label;
  BackendKind kind;
  const char* setting;
};
constexpr BackendItem kBackends[] = {{"Auto", BackendKind::automatic, "auto"},
                                     {"CPU", BackendKind::cpu, "cpu"},
                                     {"NPU", BackendKind::npu, "npu"},
                                     {"NPU emulator", BackendKind::npu_sim, "npu-sim"}};

bool is_model_file(const QString& path) {
  return path.endsWith(".bin", Qt::CaseInsensitive);
}

QString language_label(std::string_view code) {
  const QString qcode = QString::fromUtf8(code.data(), static_cast<qsizetype>(code.size()));
  const QLocale locale(qcode);
  if (locale.language() == QLocale::C || (qcode.size() > 2 && qcode != "haw" && qcode != "yue")) return qcode;
  return QStringLiteral("%1 (%2)").arg(QLocale::languageToString(locale.language()), qcode);
}

QLabel* status_label(QWidget* parent, const QString& tip) {
  auto* label = new QLabel(parent);
  label->setToolTip(tip);
  return label;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle("npuscribe");
  setWindowIcon(make_icon(IconName::audio, QColor("#2f6fde")));
  setAcceptDrops(true);
  setMinimumSize(640, 400);
  settings_ = AppSettings::load();
  queue_ = new FileQueue(this);
  bridge_ = new ProfileEventBridge(this);
  dictation_ = new DictationController(this);
  build_actions();
  build_toolbar();
  build_central();
  build_dictation();
  build_profiling();
  build_status_bar();
  populate_languages();

  connect(queue_, &FileQueue::idle, this, [this] {
    set_status(tr("All files done."), 5000);
    emit transcription_finished();
  });
  connect(queue_, &FileQueue::backend_started, this, &MainWindow::on_backend_started);
  connect(queue_, &FileQueue::entry_changed, this, &MainWindow::on_entry_changed);
  connect(queue_, &FileQueue::notice, this, [this](const QString& message) { set_status(message, 10000); });
  connect(queue_, &FileQueue::segments_appended, this, [this](int id, const std::vector<Segment>& segments) {
    if (id == queue_widget_->current_id()) transcript_->append_segments(segments);
  });

  if (!settings_.window_geometry.isEmpty())
    restoreGeometry(settings_.window_geometry);
  else
    resize(1080, 700);
  if (!settings_.window_state.isEmpty()) restoreState(settings_.window_state);

  // NPUSCRIBE_MODEL (as for the CLI) wins over the remembered model.
  QString initial_model = qEnvironmentVariable("NPUSCRIBE_MODEL");
  if (!initial_model.isEmpty()) {
    try {
      initial_model = QString::fromStdString(resolve_model(initial_model.toStdString()).string());
    } catch (const Error& error) {
      set_status(QString::fromUtf8(error.what()));
      initial_model.clear();
    }
  }
  if (initial_model.isEmpty()) initial_model = settings_.model_path;
  populate_models();
  if (!initial_model.isEmpty() && QFileInfo::exists(initial_model)) load_model(initial_model);
  if (!model_)
    set_status(tr("Choose a model in the toolbar (Models… downloads one), then drop audio files."));
  for (int i = 0; i < backend_combo_->count(); ++i)
    if (backend_combo_->itemData(i, Qt::UserRole + 1).toString() == settings_.backend)
      backend_combo_->setCurrentIndex(i);
  on_backend_selected(backend_combo_->currentIndex());
}

MainWindow::~MainWindow() {
  if (audio_loader_.joinable()) audio_loader_.join();
  player_.reset();
  // The engines stop (and join their threads) before the bridge they report to goes away.
  delete dictation_;
  dictation_ = nullptr;
  delete queue_;
  queue_ = nullptr;
}

void MainWindow::build_dictation() {
  dictation_page_ = new QWidget(tabs_);
  auto* layout = new QVBoxLayout(dictation_page_);
  layout->setContentsMargins(10, 10, 10, 10);
  dictation_panel_ = new DictationPanel(dictation_, dictation_page_);
  layout->addWidget(dictation_panel_);
  tabs_->addTab(dictation_page_, make_icon(IconName::record), tr("Dictation"));
  dictation_->setInputDevice(settings_.input_device);
  dictation_->setVadSensitivity(settings_.vad_sensitivity);
  dictation_->setProfileSink(bridge_);
  // Continuous autosave: a crash mid-dictation loses nothing.
  const QString data_dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
  if (!data_dir.isEmpty() && QDir().mkpath(data_dir))
    dictation_->setAutosavePath(QDir(data_dir).filePath("dictation-autosave.txt"));
  connect(dictation_, &DictationController::stateChanged, this, [this](int state) {
    const bool recording = state == DictationController::Recording || state == DictationController::Paused;
    record_button_->setText(recording ? tr("Stop") : tr("Record"));
    record_button_->setIcon(make_icon(recording ? IconName::stop : IconName::record, Qt::white));
    if (state == DictationController::Recording) latency_label_->show();
  });
  connect(dictation_, &DictationController::errorOccurred, this,
          [this](const QString& message) { set_status(message); });
  connect(dictation_, &DictationController::noticeOccurred, this,
          [this](const QString& message) { set_status(message, 10000); });
  connect(dictation_, &DictationController::latencyMeasured, this,
          [this](double first_words_s, double confirmed_lag_s) {
            latency_label_->setText(tr("latency %1 s · confirmed %2 s behind")
                                        .arg(first_words_s, 0, 'f', 1)
                                        .arg(confirmed_lag_s, 0, 'f', 1));
            latency_label_->show();
          });
}

void MainWindow::build_profiling() {
  // In a scroll area: the plots need more height than an 800x500 window has, and scrolling beats clipping.
  auto* scroll = new QScrollArea(tabs_);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  profiling_page_ = scroll;
  auto* inner = new QWidget(scroll);
  auto* layout = new QVBoxLayout(inner);
  layout->setContentsMargins(10, 10, 10, 10);
  profiling_view_ = new ProfilingView(inner);
  layout->addWidget(profiling_view_);
  scroll->setWidget(inner);
  tabs_->addTab(profiling_page_, make_icon(IconName::settings), tr("Profiling"));
  connect(bridge_, &ProfileEventBridge::eventsAvailable, profiling_view_, &ProfilingView::appendEvents);
  queue_->set_profile_sink(bridge_);
  connect(queue_, &FileQueue::idle, bridge_, &ProfileEventBridge::flush);
  connect(queue_, &FileQueue::comparison_ready, this, [this](const ComparisonOutcome& outcome) {
    if (!outcome.error.isEmpty()) {
      set_status(tr("Comparison failed: %1").arg(outcome.error));
      return;
    }
    profiling_view_->setComparison(outcome.encoder);
    profiling_view_->setTranscriptComparison(outcome.transcript);
    std::size_t changed = 0;
    for (const TokenDifference& difference : outcome.transcript.differences)
      changed += difference.kind != TokenDifference::Kind::same;
    set_status(tr("%1 against the CPU: encoder output cosine %2, %3 token(s) differ.")
                   .arg(QString::fromStdString(outcome.encoder.candidate_backend))
                   .arg(outcome.encoder.encoder.cosine, 0, 'f', 5)
                   .arg(changed));
  });
}

void MainWindow::update_dictation_model() {
  if (model_) dictation_->setModel(model_, selected_backend());
}

void MainWindow::build_actions() {
  QMenu* file_menu = menuBar()->addMenu(tr("&File"));
  QAction* open = file_menu->addAction(make_icon(IconName::open), tr("&Open audio or video…"), this,
                                       &MainWindow::choose_files);
  open->setShortcut(QKeySequence::Open);
  export_action_ = file_menu->addAction(make_icon(IconName::save), tr("&Export transcript…"), this,
                                        &MainWindow::choose_export);
  export_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  QMenu* export_as = file_menu->addMenu(tr("Export to the export &folder as"));
  for (const OutputFormat format :
       {OutputFormat::txt, OutputFormat::srt, OutputFormat::vtt, OutputFormat::json}) {
    export_as->addAction(QString::fromUtf8(file_extension(format).data()), this,
                         [this, format] { export_current(format); });
  }
  file_menu->addSeparator();
  file_menu->addAction(make_icon(IconName::models), tr("&Models…"), this, &MainWindow::open_models_dialog)
      ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_M));
  file_menu->addAction(tr("Add a &local model file…"), this, &MainWindow::choose_model_file);
  file_menu->addSeparator();
  file_menu->addAction(tr("&Preferences…"), this, &MainWindow::show_preferences)
      ->setShortcut(QKeySequence::Preferences);
  file_menu->addSeparator();
  QAction* quit = file_menu->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* edit_menu = menuBar()->addMenu(tr("&Edit"));
  copy_action_ = edit_menu->addAction(make_icon(IconName::copy), tr("&Copy transcript"), this,
                                      &MainWindow::copy_transcript);
  copy_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));

  QMenu* view_menu = menuBar()->addMenu(tr("&View"));
  QMenu* theme_menu = view_menu->addMenu(tr("&Theme"));
  auto* theme_group = new QActionGroup(this);
  const QString theme_labels[] = {tr("Follow the desktop"), tr("Light"), tr("Dark")};
  for (int i = 0; i < 3; ++i) {
    theme_actions_[i] =
        theme_menu->addAction(theme_labels[i], this, [this, i] { set_theme(static_cast<ThemeChoice>(i)); });
    theme_actions_[i]->setCheckable(true);
    theme_group->addAction(theme_actions_[i]);
  }
  theme_actions_[static_cast<int>(settings_.theme)]->setChecked(true);
  profiling_action_ = view_menu->addAction(tr("&Profiling"), this, &MainWindow::toggle_profiling);
  profiling_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_P));
  compare_action_ = view_menu->addAction(tr("&Compare the selected file with the CPU"), this,
                                         &MainWindow::compare_current_with_cpu);
  compare_action_->setToolTip(
      tr("Per-layer encoder error and transcript differences of the NPU (or its "
         "emulator) against the CPU, in the Profiling tab's Accuracy panel"));

  QMenu* dictation_menu = menuBar()->addMenu(tr("&Dictation"));
  record_action_ = dictation_menu->addAction(make_icon(IconName::record), tr("&Record / stop"), this,
                                             &MainWindow::toggle_record);
  record_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
}

void MainWindow::build_toolbar() {
  QToolBar* bar = addToolBar(tr("Main"));
  bar->setObjectName("main-toolbar");
  bar->setMovable(false);
  bar->setIconSize(QSize(18, 18));
  bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  auto add_caption = [&](const QString& text) {
    auto* caption = new QLabel(text, bar);
    caption->setObjectName("muted");
    caption->setContentsMargins(6, 0, 2, 0);
    bar->addWidget(caption);
  };
  add_caption(tr("Model"));
  model_combo_ = new QComboBox(bar);
  model_combo_->setMinimumContentsLength(14);
  model_combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  model_combo_->setToolTip(tr("The Whisper model (ggml file) used for files and dictation"));
  bar->addWidget(model_combo_);
  auto* models_button = new QToolButton(bar);
  models_button->setIcon(make_icon(IconName::models));
  models_button->setToolTip(tr("Download models or add a local ggml file (Ctrl+M)"));
  models_button->setAutoRaise(true);
  connect(models_button, &QToolButton::clicked, this, &MainWindow::open_models_dialog);
  bar->addWidget(models_button);
  bar->addSeparator();
  add_caption(tr("Backend"));
  backend_combo_ = new QComboBox(bar);
  for (const BackendItem& item : kBackends) {
    backend_combo_->addItem(tr(item.label), static_cast<int>(item.kind));
    backend_combo_->setItemData(backend_combo_->count() - 1, QString(item.setting), Qt::UserRole + 1);
  }
  backend_combo_->setItemData(0, tr("The NPU when one is usable, else the CPU"), Qt::ToolTipRole);
  backend_combo_->setItemData(1, tr("fp32 on the CPU (OpenBLAS): the reference"), Qt::ToolTipRole);
  backend_combo_->setItemData(
      3,
      tr("The NPU's int8 kernels run on the CPU with modelled timing: slow, but shows "
         "what the NPU would do"),
      Qt::ToolTipRole);
  bar->addWidget(backend_combo_);
  add_caption(tr("Language"));
  language_combo_ = new QComboBox(bar);
  language_combo_->setMinimumContentsLength(10);
  language_combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  bar->addWidget(language_combo_);
  auto* spacer = new QWidget(bar);
  spacer->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
  bar->addWidget(spacer);
  bar->addAction(make_icon(IconName::open), tr("Open"), this, &MainWindow::choose_files)
      ->setToolTip(tr("Open audio or video files (Ctrl+O)"));
  record_button_ = new QPushButton(make_icon(IconName::record, Qt::white), tr("Record"), bar);
  record_button_->setObjectName("record");
  record_button_->setToolTip(tr("Start or stop live dictation (Ctrl+R)"));
  record_button_->setCursor(Qt::PointingHandCursor);
  connect(record_button_, &QPushButton::clicked, this, &MainWindow::toggle_record);
  bar->addWidget(record_button_);

  connect(model_combo_, &QComboBox::currentIndexChanged, this, &MainWindow::on_model_selected);
  connect(backend_combo_, &QComboBox::currentIndexChanged, this, &MainWindow::on_backend_selected);
  connect(language_combo_, &QComboBox::currentIndexChanged, this, &MainWindow::on_language_selected);
}

void MainWindow::build_central() {
  tabs_ = new QTabWidget(this);
  tabs_->setDocumentMode(true);

  files_page_ = new QWidget(tabs_);
  auto* files_layout = new QVBoxLayout(files_page_);
  files_layout->setContentsMargins(10, 10, 10, 10);
  auto* splitter = new QSplitter(Qt::Horizontal, files_page_);
  splitter->setChildrenCollapsible(false);
  splitter->setHandleWidth(10);

  auto* queue_card = new QFrame(splitter);
  queue_card->setObjectName("card");
  auto* queue_layout = new QVBoxLayout(queue_card);
  queue_layout->setContentsMargins(1, 8, 1, 1);
  auto* queue_title = new QLabel(tr("Files"), queue_card);
  queue_title->setObjectName("heading");
  queue_title->setContentsMargins(10, 0, 0, 4);
  queue_widget_ = new FileQueueWidget(queue_, queue_card);
  queue_layout->addWidget(queue_title);
  queue_layout->addWidget(queue_widget_, 1);
  queue_card->setMinimumWidth(220);

  auto* transcript_card = new QFrame(splitter);
  transcript_card->setObjectName("card");
  auto* transcript_layout = new QVBoxLayout(transcript_card);
  transcript_layout->setContentsMargins(1, 8, 1, 1);
  auto* header = new QHBoxLayout;
  header->setContentsMargins(12, 0, 8, 4);
  auto* titles = new QVBoxLayout;
  titles->setSpacing(0);
  transcript_title_ = new QLabel(tr("Transcript"), transcript_card);
  transcript_title_->setObjectName("heading");
  transcript_detail_ =
      new QLabel(tr("Click a time to play from there · double-click text to edit"), transcript_card);
  transcript_detail_->setObjectName("muted");
  transcript_detail_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  titles->addWidget(transcript_title_);
  titles->addWidget(transcript_detail_);
  header->addLayout(titles, 1);
  copy_button_ = new QToolButton(transcript_card);
  copy_button_->setDefaultAction(copy_action_);
  copy_button_->setAutoRaise(true);
  export_button_ = new QToolButton(transcript_card);
  export_button_->setDefaultAction(export_action_);
  export_button_->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  export_button_->setText(tr("Export"));
  export_button_->setAutoRaise(true);
  stop_button_ = new QToolButton(transcript_card);
  stop_button_->setIcon(make_icon(IconName::stop));
  stop_button_->setText(tr("Stop"));
  stop_button_->setToolTip(tr("Stop playback"));
  stop_button_->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  stop_button_->setAutoRaise(true);
  stop_button_->hide();
  connect(stop_button_, &QToolButton::clicked, this, &MainWindow::stop_playback);
  playback_timer_ = new QTimer(this);
  playback_timer_->setInterval(200);
  connect(playback_timer_, &QTimer::timeout, this, [this] {
    if (!is_playing()) {
      stop_button_->hide();
      playback_timer_->stop();
    }
  });
  header->addWidget(stop_button_);
  header->addWidget(copy_button_);
  header->addWidget(export_button_);
  transcript_ = new TranscriptView(transcript_card);
  transcript_layout->addLayout(header);
  transcript_layout->addWidget(transcript_, 1);

  splitter->addWidget(queue_card);
  splitter->addWidget(transcript_card);
  splitter->setStretchFactor(0, 2);
  splitter->setStretchFactor(1, 5);
  splitter->setSizes({300, 700});
  files_layout->addWidget(splitter);
  tabs_->addTab(files_page_, make_icon(IconName::audio), tr("Files"));

  connect(queue_widget_, &FileQueueWidget::current_changed, this, &MainWindow::on_current_file_changed);
  connect(queue_widget_, &FileQueueWidget::open_requested, this, &MainWindow::choose_files);
  connect(transcript_, &TranscriptView::text_edited, this, [this](int row, const QString& text) {
    // Edits go into the queue's result, so exporting writes what the user sees.
    if (QueueEntry* entry = queue_->entry(queue_widget_->current_id());
        entry && row < static_cast<int>(entry->result.segments.size()))
      entry->result.segments[static_cast<std::size_t>(row)].text = " " + text.toStdString();
  });
  connect(transcript_, &TranscriptView::play_requested, this, &MainWindow::play_from);
  setCentralWidget(tabs_);
  on_current_file_changed(0);
}

void MainWindow::build_status_bar() {
  QStatusBar* bar = statusBar();
  bar->setSizeGripEnabled(true);
  backend_label_ = status_label(bar, tr("The encoder backend in use"));
  speed_label_ = status_label(bar, tr("Transcription speed as a multiple of real time"));
  latency_label_ =
      status_label(bar, tr("Live dictation latency: first words / confirmed text behind speech"));
  timing_tag_ = status_label(bar, tr("Whether profiling figures are measured on this machine or modelled"));
  timing_tag_->setObjectName("tag");
  bar->addPermanentWidget(latency_label_);
  bar->addPermanentWidget(speed_label_);
  bar->addPermanentWidget(backend_label_);
  bar->addPermanentWidget(timing_tag_);
  latency_label_->hide();
  speed_label_->hide();
  timing_tag_->hide();
}

void MainWindow::populate_models() {
  populating_ = true;
  const QString current = model_path_;
  model_combo_->clear();
  QStringList seen;
  for (const OfficialModel& official : official_models()) {
    if (!installed_state(official).installed) continue;
    const QString path = QString::fromStdString(installed_model_path(official).string());
    model_combo_->addItem(QString::fromStdString(official.name), path);
    model_combo_->setItemData(model_combo_->count() - 1, path, Qt::ToolTipRole);
    seen << path;
  }
  QStringList locals = settings_.local_models;
  if (!current.isEmpty() && !locals.contains(current)) locals << current;
  for (const QString& path : locals) {
    if (seen.contains(path) || !QFileInfo::exists(path)) continue;
    model_combo_->addItem(QFileInfo(path).fileName(), path);
    model_combo_->setItemData(model_combo_->count() - 1, path, Qt::ToolTipRole);
    seen << path;
  }
  if (model_combo_->count() == 0) {
    model_combo_->addItem(tr("No model — open Models…"), QString());
  }
  model_combo_->setCurrentIndex(std::max(0, model_combo_->findData(current)));
  populating_ = false;
}

void MainWindow::populate_languages() {
  populating_ = true;
  language_combo_->clear();
  language_combo_->addItem(tr("Detect automatically"), QString("auto"));
  const bool multilingual = model_ && model_->hparams().is_multilingual();
  if (multilingual) {
    const int count = model_->hparams().language_count();
    const auto codes = whisper_language_codes();
    for (int i = 0; i < count && i < static_cast<int>(codes.size()); ++i)
      language_combo_->addItem(language_label(codes[static_cast<std::size_t>(i)]),
                               QString::fromUtf8(codes[static_cast<std::size_t>(i)].data()));
  } else {
    language_combo_->setItemText(0, model_ ? tr("English") : tr("Detect automatically"));
  }
  language_combo_->setEnabled(multilingual);
  language_combo_->setToolTip(multilingual ? tr("The spoken language; detection listens to the first 30 s")
                                           : tr("This model only knows English"));
  const int index = language_combo_->findData(settings_.language);
  language_combo_->setCurrentIndex(index >= 0 ? index : 0);
  populating_ = false;
  on_language_selected(language_combo_->currentIndex());
}

void MainWindow::update_backend_availability() {
  // Only opening the device says whether an NPU is usable (driver, firmware, XRT version); it is done off
  // the GUI thread, without the model's weights, and the reason it cannot be used becomes the tooltip.
  if (!model_) return;
  QPointer<MainWindow> self(this);
  std::thread([self, options = XrtDeviceOptions::for_model(model_->hparams())] {
    std::string why_unavailable;
    std::unique_ptr<NpuDevice> device = open_xrt_device(options, &why_unavailable);
    const bool usable = device != nullptr;
    const QString detail = usable ? QString::fromStdString(device->description())
                                  : tr("No usable NPU: %1").arg(QString::fromStdString(why_unavailable));
    device.reset();
    QMetaObject::invokeMethod(
        qApp,
        [self, usable, detail] {
          if (!self) return;
          auto* items = qobject_cast<QStandardItemModel*>(self->backend_combo_->model());
          const int index = self->backend_combo_->findData(static_cast<int>(BackendKind::npu));
          if (QStandardItem* item = items && index >= 0 ? items->item(index) : nullptr) {
            item->setEnabled(usable);
            item->setToolTip(detail);
          }
        },
        Qt::QueuedConnection);
  }).detach();
}

bool MainWindow::load_model(const QString& path) {
  try {
    model_ = WhisperModel::load(path.toStdString());
  } catch (const Error& error) {
    set_status(QString::fromUtf8(error.what()));
    return false;
  }
  model_path_ = QFileInfo(path).absoluteFilePath();
  settings_.model_path = model_path_;
  bool official = false;
  for (const OfficialModel& candidate : official_models())
    official |= QString::fromStdString(installed_model_path(candidate).string()) == model_path_;
  if (!official && !settings_.local_models.contains(model_path_)) settings_.local_models << model_path_;
  queue_->set_model(model_);
  update_dictation_model();
  populate_models();
  populate_languages();
  update_backend_availability();
  set_status(tr("Model %1 (%2) ready. Drop audio or video files on the window.")
                 .arg(QFileInfo(path).fileName(), QString::fromStdString(model_->hparams().size_name())));
  emit model_changed();
  queue_->start_next();  // files dropped before a model was chosen
  return true;
}

void MainWindow::on_model_selected(int index) {
  if (populating_ || index < 0) return;
  const QString path = model_combo_->itemData(index).toString();
  if (!path.isEmpty() && path != model_path_) load_model(path);
}

BackendKind MainWindow::selected_backend() const {
  return static_cast<BackendKind>(backend_combo_->currentData().toInt());
}

void MainWindow::on_backend_selected(int index) {
  if (index < 0) return;
  settings_.backend = backend_combo_->itemData(index, Qt::UserRole + 1).toString();
  queue_->set_backend(selected_backend());
  update_dictation_model();
  if (!queue_->busy()) backend_label_->setText(tr("Backend: %1").arg(backend_combo_->currentText()));
}

void MainWindow::on_language_selected(int index) {
  if (populating_ || index < 0) return;
  const QString code = language_combo_->itemData(index).toString();
  if (language_combo_->isEnabled()) settings_.language = code;
  TranscribeOptions options = queue_->options();
  options.language = code == "auto" ? std::string() : code.toStdString();
  queue_->set_options(options);
  dictation_->setLanguage(code == "auto" ? QString() : code);
}

void MainWindow::set_transcribe_options(const TranscribeOptions& options) {
  TranscribeOptions merged = options;
  const QString code = language_combo_->currentData().toString();
  if (merged.language.empty() && code != "auto") merged.language = code.toStdString();
  queue_->set_options(merged);
}

void MainWindow::add_paths(const QStringList& paths) {
  QStringList audio;
  QStringList expanded;
  for (const QString& path : paths) {
    // A dropped folder stands for the files in it (not its subfolders), in name order.
    if (QFileInfo(path).isDir()) {
      for (const QFileInfo& file : QDir(path).entryInfoList(QDir::Files | QDir::Readable, QDir::Name))
        if (!is_model_file(file.filePath())) expanded << file.absoluteFilePath();
    } else {
      expanded << path;
    }
  }
  for (const QString& path : expanded) {
    if (is_model_file(path)) {
      if (load_model(path)) settings_.local_models.removeDuplicates();
    } else {
      audio << path;
    }
  }
  if (audio.isEmpty()) return;
  tabs_->setCurrentWidget(files_page_);
  const std::vector<int> ids = queue_->add(audio);
  if (!model_)
    set_status(tr("%1 waiting for a model: choose one in the toolbar or open Models…")
                   .arg(audio.size() == 1 ? tr("1 file") : tr("%1 files").arg(audio.size())));
  else
    set_status(
        tr("%1 added to the queue.").arg(audio.size() == 1 ? tr("1 file") : tr("%1 files").arg(audio.size())),
        4000);
  if (queue_widget_->current_id() == 0 && !ids.empty()) queue_widget_->set_current(ids.front());
}

void MainWindow::on_current_file_changed(int id) {
  const QueueEntry* entry = queue_->entry(id);
  if (!entry || entry->path != playback_path_) {
    // Only the selected file's samples are kept (an hour of audio is 230 MB).
    stop_playback();
    playback_audio_.reset();
    playback_path_.clear();
  }
  transcript_->clear_segments();
  export_action_->setEnabled(entry && !entry->result.segments.empty());
  copy_action_->setEnabled(entry && !entry->result.segments.empty());
  if (!entry) {
    transcript_title_->setText(tr("Transcript"));
    return;
  }
  transcript_title_->setText(QFileInfo(entry->path).fileName());
  transcript_->set_segments(entry->result.segments);
  update_detail(id);
}

void MainWindow::on_entry_changed(int id) {
  const QueueEntry* entry = queue_->entry(id);
  if (!entry) return;
  if (entry->state == QueueEntry::State::running && entry->realtime_factor > 0) {
    speed_label_->setText(tr("%1× real time").arg(entry->realtime_factor, 0, 'f', 1));
    speed_label_->show();
  } else if (entry->state == QueueEntry::State::finished && entry->realtime_factor > 0) {
    speed_label_->setText(tr("last file %1× real time").arg(entry->realtime_factor, 0, 'f', 1));
    speed_label_->show();
  }
  update_detail(id);
}

void MainWindow::update_detail(int id) {
  const QueueEntry* entry = queue_->entry(id);
  if (!entry || id != queue_widget_->current_id()) return;
  const bool has_text = !entry->result.segments.empty();
  export_action_->setEnabled(has_text);
  copy_action_->setEnabled(has_text);
  QString detail;
  switch (entry->state) {
    case QueueEntry::State::failed:
      detail = entry->error;
      break;
    case QueueEntry::State::queued:
      detail = tr("Waiting in the queue");
      break;
    default: {
      detail = QFileInfo(entry->path).absolutePath();
      if (!entry->result.language.empty())
        detail = tr("Language %1 · %2").arg(QString::fromStdString(entry->result.language), detail);
      if (!entry->backend.name.isEmpty()) detail = tr("%1 · %2").arg(entry->backend.name, detail);
    }
  }
  transcript_detail_->setText(detail);
  transcript_detail_->setToolTip(detail);
  // A finished file whose view lags (segments replaced with the final result): redraw once.
  if (entry->state == QueueEntry::State::finished &&
      transcript_->segment_count() != static_cast<int>(entry->result.segments.size()))
    transcript_->set_segments(entry->result.segments);
}

void MainWindow::on_backend_started(const BackendInUse& backend) {
  backend_label_->setText(tr("Backend: %1").arg(backend.name));
  backend_label_->setToolTip(backend.reason.isEmpty() ? backend.description
                                                      : backend.description + "\n" + backend.reason);
  timing_tag_->setText(backend.timing == TimingSource::modelled ? tr("modelled") : tr("measured"));
  timing_tag_->show();
  if (!backend.reason.isEmpty()) set_status(backend.reason, 8000);
}

QString MainWindow::export_current(OutputFormat format, const QString& folder) {
  const QueueEntry* entry = queue_->entry(queue_widget_->current_id());
  if (!entry || entry->result.segments.empty()) {
    set_status(tr("Nothing to export yet: select a transcribed file."));
    return {};
  }
  try {
    const auto path = export_transcript(entry->path, entry->result,
                                        folder.isEmpty() ? settings_.export_folder : folder, format);
    last_format_ = format;
    const QString written = QString::fromStdString(path.string());
    set_status(tr("Exported %1").arg(written), 8000);
    return written;
  } catch (const Error& error) {
    set_status(QString::fromUtf8(error.what()));
    return {};
  }
}

void MainWindow::choose_export() {
  const QueueEntry* entry = queue_->entry(queue_widget_->current_id());
  if (!entry || entry->result.segments.empty()) {
    set_status(tr("Nothing to export yet: select a transcribed file."));
    return;
  }
  const QString folder =
      settings_.export_folder.isEmpty() ? QFileInfo(entry->path).absolutePath() : settings_.export_folder;
  const QStringList filters = {tr("SubRip subtitles (*.srt)"), tr("WebVTT subtitles (*.vtt)"),
                               tr("Plain text (*.txt)"), tr("JSON with timings (*.json)")};
  const OutputFormat formats[] = {OutputFormat::srt, OutputFormat::vtt, OutputFormat::txt,
                                  OutputFormat::json};
  QString selected = filters[0];
  for (int i = 0; i < 4; ++i)
    if (formats[i] == last_format_) selected = filters[i];
  const QString suggested = QDir(folder).filePath(QFileInfo(entry->path).completeBaseName() +
                                                  QString::fromUtf8(file_extension(last_format_).data()));
  const QString path =
      QFileDialog::getSaveFileName(this, tr("Export transcript"), suggested, filters.join(";;"), &selected);
  if (path.isEmpty()) return;
  OutputFormat format = formats[std::max<qsizetype>(0, filters.indexOf(selected))];
  try {
    format = parse_output_format(QFileInfo(path).suffix().toStdString());  // the typed extension wins
  } catch (const Error&) {
  }
  try {
    write_transcript(path.toStdString(), entry->result, format);
    last_format_ = format;
    set_status(tr("Exported %1").arg(path), 8000);
  } catch (const Error& error) {
    QMessageBox::warning(this, tr("Export failed"), QString::fromUtf8(error.what()));
  }
}

void MainWindow::choose_files() {
  const QStringList paths =
      QFileDialog::getOpenFileNames(this, tr("Transcribe audio or video files"), QString(), tr(kAudioFilter));
  if (!paths.isEmpty()) add_paths(paths);
}

void MainWindow::choose_model_file() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Add a whisper.cpp model"), QString(),
                                                    tr("ggml models (*.bin);;All files (*)"));
  if (!path.isEmpty() && !load_model(path))
    QMessageBox::warning(this, tr("Not a usable model"), status_message_);
}

void MainWindow::open_models_dialog() {
  ModelsDialog dialog(this);
  connect(&dialog, &ModelsDialog::model_chosen, this, [this](const QString& path) { load_model(path); });
  dialog.exec();
  populate_models();
}

void MainWindow::copy_transcript() {
  const QString text = transcript_->plain_text();
  if (text.isEmpty()) return;
  QApplication::clipboard()->setText(text);
  set_status(tr("Transcript copied to the clipboard."), 3000);
}

void MainWindow::show_preferences() {
  QDialog dialog(this);
  dialog.setWindowTitle(tr("Preferences"));
  auto* form = new QFormLayout(&dialog);
  auto* folder = new QLineEdit(settings_.export_folder, &dialog);
  folder->setPlaceholderText(tr("Beside each audio file"));
  auto* browse = new QPushButton(tr("Choose…"), &dialog);
  connect(browse, &QPushButton::clicked, &dialog, [&] {
    const QString chosen = QFileDialog::getExistingDirectory(&dialog, tr("Export folder"), folder->text());
    if (!chosen.isEmpty()) folder->setText(chosen);
  });
  auto* folder_row = new QHBoxLayout;
  folder_row->addWidget(folder, 1);
  folder_row->addWidget(browse);
  form->addRow(tr("Export folder"), folder_row);
  auto* theme = new QComboBox(&dialog);
  theme->addItems({tr("Follow the desktop"), tr("Light"), tr("Dark")});
  theme->setCurrentIndex(static_cast<int>(settings_.theme));
  form->addRow(tr("Theme"), theme);
  auto* vad = new QComboBox(&dialog);
  vad->addItems({tr("0 — keeps quiet speech"), tr("1"), tr("2 — balanced"), tr("3 — rejects most noise")});
  vad->setCurrentIndex(settings_.vad_sensitivity);
  vad->setToolTip(tr("How strictly dictation's voice activity detector rejects non-speech"));
  form->addRow(tr("Voice detection"), vad);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
  connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  form->addRow(buttons);
  if (dialog.exec() != QDialog::Accepted) return;
  settings_.export_folder = folder->text().trimmed();
  settings_.vad_sensitivity = vad->currentIndex();
  dictation_->setVadSensitivity(settings_.vad_sensitivity);
  set_theme(static_cast<ThemeChoice>(theme->currentIndex()));
  save_settings();
}

void MainWindow::set_theme(ThemeChoice choice) {
  settings_.theme = choice;
  theme_actions_[static_cast<int>(choice)]->setChecked(true);
  apply_theme(choice);
  // Colours baked into items (timestamps, status lines) follow the new palette.
  for (const int id : queue_->ids())
    if (FileRow* row = queue_widget_->row(id)) row->refresh();
  on_current_file_changed(queue_widget_->current_id());
}

bool MainWindow::compare_current_with_cpu() {
  const int id = queue_widget_->current_id();
  if (!queue_->compare_with_cpu(id)) {
    set_status(queue_->comparing() ? tr("A comparison is already running.")
                                   : tr("Select a finished file to compare it with the CPU."));
    return false;
  }
  tabs_->setCurrentWidget(profiling_page_);
  set_status(tr("Comparing with the CPU: one more transcription on the CPU, then the accuracy panel…"));
  return true;
}

void MainWindow::toggle_profiling() {
  tabs_->setCurrentWidget(tabs_->currentWidget() == profiling_page_ ? files_page_ : profiling_page_);
}

void MainWindow::toggle_record() {
  tabs_->setCurrentWidget(dictation_page_);
  if (!model_ && !dictation_->isRecording()) {
    set_status(tr("Choose a model first: the toolbar's model list, or Models… to download one."));
    return;
  }
  dictation_panel_->toggleRecording();
}

void MainWindow::play_from(double start_s) {
  const QueueEntry* entry = queue_->entry(queue_widget_->current_id());
  if (!entry) return;
  if (playback_path_ == entry->path && playback_audio_) {
    start_playback(start_s);
    return;
  }
  pending_start_s_ = start_s;
  if (loading_path_ == entry->path) return;  // already decoding it: play from the latest click when done
  if (audio_loader_.joinable()) audio_loader_.join();  // a previous file's decode; it ends on its own
  loading_path_ = entry->path;
  set_status(tr("Preparing %1 for playback…").arg(QFileInfo(entry->path).fileName()));
  // Decoding a long file takes seconds: never on the GUI thread.
  QPointer<MainWindow> self(this);
  audio_loader_ = std::thread([self, path = entry->path] {
    std::shared_ptr<const MonoAudio> audio;
    QString error;
    try {
      audio = std::make_shared<const MonoAudio>(load_audio_file(path.toStdString()));
    } catch (const std::exception& failure) {
      error = QString::fromUtf8(failure.what());
    }
    QMetaObject::invokeMethod(
        qApp,
        [self, path, audio, error] {
          if (!self) return;
          self->loading_path_.clear();
          if (!audio) {
            self->set_status(tr("Cannot play %1: %2").arg(QFileInfo(path).fileName(), error));
            return;
          }
          self->playback_audio_ = audio;
          self->playback_path_ = path;
          const QueueEntry* current = self->queue_->entry(self->queue_widget_->current_id());
          if (current && current->path == path) self->start_playback(self->pending_start_s_);
        },
        Qt::QueuedConnection);
  });
}

void MainWindow::start_playback(double start_s) {
  try {
    if (!player_) player_ = std::make_unique<AudioPlayer>();
    player_->play(*playback_audio_, start_s);
    stop_button_->show();
    playback_timer_->start();
    set_status(tr("Playing from %1").arg(short_timestamp(start_s)), 3000);
  } catch (const Error& error) {
    set_status(tr("Cannot play: %1").arg(QString::fromUtf8(error.what())));
  }
}

void MainWindow::stop_playback() {
  if (player_) player_->stop();
  stop_button_->hide();
}

bool MainWindow::is_playing() const {
  return player_ && player_->is_playing();
}

bool MainWindow::is_busy() const {
  return queue_->busy();
}

QString MainWindow::transcript_text() const {
  return transcript_->plain_text();
}

QString MainWindow::status_text() const {
  return status_message_;
}

QString MainWindow::backend_text() const {
  return backend_label_->text();
}

QString MainWindow::speed_text() const {
  return speed_label_->text();
}

void MainWindow::set_status(const QString& text, int timeout_ms) {
  status_message_ = text;
  statusBar()->showMessage(text, timeout_ms);
}

void MainWindow::save_settings() {
  settings_.input_device = dictation_->inputDevice();
  settings_.window_geometry = saveGeometry();
  settings_.window_state = saveState();
  settings_.save();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  save_settings();
  queue_->cancel_all();
  if (dictation_->isRecording()) dictation_->stop();
  QMainWindow::closeEvent(event);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (!event->mimeData()->hasUrls()) return;
  event->acceptProposedAction();
  // Audio lands in the queue: show it while the user is still dragging.
  bool audio = false;
  for (const QUrl& url : event->mimeData()->urls())
    audio |= url.isLocalFile() && !is_model_file(url.toLocalFile());
  if (audio) tabs_->setCurrentWidget(files_page_);
}

void MainWindow::dropEvent(QDropEvent* event) {
  QStringList paths;
  for (const QUrl& url : event->mimeData()->urls())
    if (url.isLocalFile()) paths << url.toLocalFile();
  if (paths.isEmpty()) return;
  event->acceptProposedAction();
  add_paths(paths);
}

}  // namespace npuscribe::ui
