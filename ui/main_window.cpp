#include "main_window.h"

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "engine/features.h"
#include "engine/transcriber.h"
#include "io/transcript_writer.h"
#include "model/whisper_model.h"
#include "util/error.h"

namespace npuscribe::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle("npuscribe");
  setAcceptDrops(true);
  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  auto* buttons = new QHBoxLayout();
  auto* model_button = new QPushButton(tr("Choose model…"), central);
  open_button_ = new QPushButton(tr("Transcribe files…"), central);
  open_button_->setEnabled(false);
  buttons->addWidget(model_button);
  buttons->addWidget(open_button_);
  buttons->addStretch();
  model_label_ = new QLabel(tr("No model loaded. Choose a whisper.cpp ggml model (ggml-*.bin)."), central);
  transcript_ = new QPlainTextEdit(central);
  transcript_->setReadOnly(true);
  transcript_->setPlaceholderText(tr("Drop audio or video files here to transcribe them."));
  status_label_ = new QLabel(central);
  layout->addLayout(buttons);
  layout->addWidget(model_label_);
  layout->addWidget(transcript_, 1);
  layout->addWidget(status_label_);
  setCentralWidget(central);
  resize(760, 480);
  connect(model_button, &QPushButton::clicked, this, &MainWindow::choose_model);
  connect(open_button_, &QPushButton::clicked, this, &MainWindow::choose_audio);
  if (const QByteArray from_env = qgetenv("NPUSCRIBE_MODEL"); !from_env.isEmpty())
    load_model(QString::fromLocal8Bit(from_env));
}

MainWindow::~MainWindow() {
  join_worker();
}

void MainWindow::join_worker() {
  if (worker_.joinable()) worker_.join();
}

bool MainWindow::load_model(const QString& path) {
  try {
    model_ = WhisperModel::load(path.toStdString());
    model_label_->setText(
        tr("Model: %1 (%2)")
            .arg(QFileInfo(path).fileName(), QString::fromStdString(model_->hparams().size_name())));
    open_button_->setEnabled(true);
    set_status(tr("Ready. Drop audio or video files on the window."));
    return true;
  } catch (const Error& error) {
    set_status(QString::fromStdString(error.what()));
    return false;
  }
}

void MainWindow::choose_model() {
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Whisper model"), QString(), tr("ggml models (*.bin)"));
  if (!path.isEmpty()) load_model(path);
}

void MainWindow::choose_audio() {
  const QStringList paths =
      QFileDialog::getOpenFileNames(this, tr("Audio files"), QString(),
                                    tr("Audio and video (*.wav *.flac *.mp3 *.ogg *.opus *.m4a *.aac *.webm "
                                       "*.mp4 *.mkv *.mov);;All files (*)"));
  if (!paths.isEmpty()) transcribe_files(paths);
}

void MainWindow::set_status(const QString& text) {
  status_label_->setText(text);
}
QString MainWindow::transcript_text() const {
  return transcript_->toPlainText();
}
QString MainWindow::status_text() const {
  return status_label_->text();
}

void MainWindow::transcribe_files(const QStringList& paths) {
  if (!model_) {
    set_status(tr("Choose a model first."));
    return;
  }
  if (busy_) {
    set_status(tr("Still transcribing; drop the next files when this one is done."));
    return;
  }
  join_worker();
  busy_ = true;
  open_button_->setEnabled(false);
  set_status(tr("Transcribing %n file(s)…", "", static_cast<int>(paths.size())));
  std::vector<std::string> files;
  for (const QString& path : paths) files.push_back(path.toStdString());
  worker_ = std::thread([this, files, model = model_] {
    Transcriber transcriber(model);
    int failures = 0;
    for (const std::string& file : files) {
      QString text;
      try {
        DecodeReport report;
        const AudioFeatures features = features_from_file(file, model->mel_filters(), {}, &report);
        const TranscriptResult transcript = transcriber.transcribe(features);
        text = QString::fromStdString(file) + ":\n";
        for (const std::string& warning : report.warnings)
          text += tr("warning: %1\n").arg(QString::fromStdString(warning));
        for (const Segment& segment : transcript.segments) {
          text += QString("[%1 → %2] %3\n")
                      .arg(QString::fromStdString(format_timestamp(segment.start_s, '.', true)),
                           QString::fromStdString(format_timestamp(segment.end_s, '.', true)),
                           QString::fromStdString(segment.text).trimmed());
        }
      } catch (const Error& error) {
        text = tr("Could not transcribe: %1\n")
                   .arg(QString::fromUtf8(error.what()));  // the message names the file
        ++failures;
      }
      QMetaObject::invokeMethod(
          this, [this, text] { transcript_->appendPlainText(text); }, Qt::QueuedConnection);
    }
    QMetaObject::invokeMethod(
        this,
        [this, failures, total = static_cast<int>(files.size())] {
          busy_ = false;
          open_button_->setEnabled(true);
          set_status(failures == 0
                         ? tr("Done.")
                         : tr("Done: %1 of %2 file(s) could not be transcribed.").arg(failures).arg(total));
          emit transcription_finished();
        },
        Qt::QueuedConnection);
  });
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  QStringList paths;
  for (const QUrl& url : event->mimeData()->urls())
    if (url.isLocalFile()) paths << url.toLocalFile();
  if (!paths.isEmpty()) transcribe_files(paths);
}

}  // namespace npuscribe::ui
