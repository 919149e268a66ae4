#include "models/models_dialog.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "icons.h"
#include "model/model_download.h"
#include "model/model_registry.h"
#include "model/whisper_model.h"
#include "theme.h"

namespace npuscribe::ui {
namespace {

constexpr int kNameColumn = 0;
constexpr int kSizeColumn = 1;
constexpr int kStatusColumn = 2;

QString installed_text(const OfficialModel& model) {
  const InstalledState state = installed_state(model);
  if (state.installed) return QObject::tr("Installed");
  if (state.partial)
    return QObject::tr("Partly downloaded (%1) — Download resumes")
        .arg(QString::fromStdString(format_size(state.size_bytes_on_disk)));
  return QObject::tr("Not installed");
}

}  // namespace

ModelsDialog::ModelsDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Models"));
  base_url_ = qEnvironmentVariable("NPUSCRIBE_MODELS_BASE_URL");
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(16, 16, 16, 12);
  layout->setSpacing(10);
  auto* intro = new QLabel(tr("whisper.cpp models, downloaded to %1 and checked against their published "
                              "SHA-1. Smaller models are faster; \".en\" models only know English.")
                               .arg(QString::fromStdString(models_directory().string())),
                           this);
  intro->setWordWrap(true);
  intro->setObjectName("muted");
  intro->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(intro);

  table_ = new QTableWidget(0, 3, this);
  table_->setHorizontalHeaderLabels({tr("Model"), tr("Size"), tr("Status")});
  table_->verticalHeader()->hide();
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setShowGrid(false);
  table_->horizontalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
  table_->horizontalHeader()->setSectionResizeMode(kNameColumn, QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setSectionResizeMode(kSizeColumn, QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setSectionResizeMode(kStatusColumn, QHeaderView::Stretch);
  table_->verticalHeader()->setDefaultSectionSize(28);
  table_->setStyleSheet("QTableWidget::item { padding: 0 6px; }");
  table_->horizontalHeaderItem(kSizeColumn)->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  for (const OfficialModel& model : official_models()) {
    const int row = table_->rowCount();
    table_->insertRow(row);
    table_->setItem(row, kNameColumn, new QTableWidgetItem(QString::fromStdString(model.name)));
    auto* size = new QTableWidgetItem(QString::fromStdString(format_size(model.size_bytes)));
    size->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    table_->setItem(row, kSizeColumn, size);
    table_->setItem(row, kStatusColumn, new QTableWidgetItem);
  }
  layout->addWidget(table_, 1);

  message_ = new QLabel(this);
  message_->setWordWrap(true);
  message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  message_->hide();
  layout->addWidget(message_);

  auto* buttons = new QHBoxLayout;
  auto* add_local = new QPushButton(make_icon(IconName::open), tr("Add local file…"), this);
  download_button_ = new QPushButton(make_icon(IconName::save), tr("Download"), this);
  cancel_button_ = new QPushButton(make_icon(IconName::cancel), tr("Cancel download"), this);
  use_button_ = new QPushButton(tr("Use this model"), this);
  use_button_->setObjectName("primary");
  auto* close = new QPushButton(tr("Close"), this);
  buttons->addWidget(add_local);
  buttons->addStretch();
  buttons->addWidget(download_button_);
  buttons->addWidget(cancel_button_);
  buttons->addWidget(use_button_);
  buttons->addWidget(close);
  layout->addLayout(buttons);

  connect(add_local, &QPushButton::clicked, this, &ModelsDialog::choose_local_file);
  connect(download_button_, &QPushButton::clicked, this, [this] {
    if (const QTableWidgetItem* item = table_->item(table_->currentRow(), kNameColumn))
      start_download(item->text());
  });
  connect(cancel_button_, &QPushButton::clicked, this, &ModelsDialog::cancel_download);
  connect(use_button_, &QPushButton::clicked, this, [this] {
    const QTableWidgetItem* item = table_->item(table_->currentRow(), kNameColumn);
    const OfficialModel* model = item ? find_official_model(item->text().toStdString()) : nullptr;
    if (model && installed_state(*model).installed) {
      emit model_chosen(QString::fromStdString(installed_model_path(*model).string()));
      accept();
    }
  });
  connect(close, &QPushButton::clicked, this, &QDialog::reject);
  connect(table_, &QTableWidget::currentCellChanged, this, &ModelsDialog::update_buttons);
  connect(table_, &QTableWidget::cellDoubleClicked, use_button_, &QPushButton::click);
  resize(620, 520);
  refresh();
  // Start on the first installed model (the one "Use" would pick), else the first row.
  int first_installed = 0;
  for (int row = 0; row < table_->rowCount(); ++row)
    if (installed_state(official_models()[static_cast<std::size_t>(row)]).installed) {
      first_installed = row;
      break;
    }
  table_->setCurrentCell(first_installed, 0);
}

ModelsDialog::~ModelsDialog() {
  if (cancel_) cancel_->store(true);
  if (download_thread_.joinable()) download_thread_.join();
}

void ModelsDialog::refresh() {
  const auto models = official_models();
  for (int row = 0; row < table_->rowCount() && row < static_cast<int>(models.size()); ++row) {
    if (row == download_row_ && downloading()) continue;
    table_->removeCellWidget(row, kStatusColumn);
    const OfficialModel& model = models[static_cast<std::size_t>(row)];
    QTableWidgetItem* status = table_->item(row, kStatusColumn);
    status->setText(installed_text(model));
    const ThemeColors colors = theme_colors();
    status->setForeground(installed_state(model).installed ? colors.success : colors.muted_text);
  }
  update_buttons();
}

void ModelsDialog::update_buttons() {
  const QTableWidgetItem* item = table_->item(table_->currentRow(), kNameColumn);
  const OfficialModel* model = item ? find_official_model(item->text().toStdString()) : nullptr;
  const bool installed = model && installed_state(*model).installed;
  const bool busy = downloading();
  download_button_->setEnabled(model && !installed && !busy);
  cancel_button_->setVisible(busy);
  use_button_->setEnabled(installed);
}

int ModelsDialog::row_of(const QString& name) const {
  for (int row = 0; row < table_->rowCount(); ++row)
    if (table_->item(row, kNameColumn)->text() == name) return row;
  return -1;
}

QString ModelsDialog::status_of(const QString& name) const {
  const int row = row_of(name);
  if (row < 0) return {};
  if (auto* bar = qobject_cast<QProgressBar*>(table_->cellWidget(row, kStatusColumn))) return bar->format();
  return table_->item(row, kStatusColumn)->text();
}

QString ModelsDialog::message_text() const {
  return message_->isHidden() ? QString() : message_->text();
}

void ModelsDialog::show_message(const QString& text, bool error) {
  const ThemeColors colors = theme_colors();
  message_->setStyleSheet(QString("color: %1;").arg((error ? colors.error : colors.success).name()));
  message_->setText(text);
  message_->setVisible(!text.isEmpty());
}

bool ModelsDialog::start_download(const QString& name) {
  const OfficialModel* model = find_official_model(name.toStdString());
  if (!model || downloading()) return false;
  if (download_thread_.joinable()) download_thread_.join();  // the previous one has finished
  const int row = row_of(QString::fromStdString(model->name));
  download_row_ = row;
  auto* bar = new QProgressBar(table_);
  bar->setRange(0, 1000);
  bar->setTextVisible(true);
  bar->setFormat(tr("Connecting…"));
  bar->setStyleSheet("QProgressBar { max-height: 16px; border-radius: 4px; } ");
  table_->setCellWidget(row, kStatusColumn, bar);
  show_message({}, false);
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  download_done_ = false;
  update_buttons();
  DownloadOptions options;
  if (!base_url_.isEmpty()) options.base_url = base_url_.toStdString();
  options.cancel = cancel_.get();
  options.on_progress = [this, row](const DownloadProgress& progress) {
    const double fraction =
        progress.total_bytes ? static_cast<double>(progress.received_bytes) / progress.total_bytes : 0.0;
    const QString text =
        tr("%1 of %2 · %3/s")
            .arg(QString::fromStdString(format_size(progress.received_bytes)),
                 QString::fromStdString(format_size(progress.total_bytes)),
                 QString::fromStdString(format_size(static_cast<std::uint64_t>(progress.bytes_per_second))));
    QMetaObject::invokeMethod(
        this, [this, row, fraction, text] { on_progress(row, fraction, text); }, Qt::QueuedConnection);
  };
  download_thread_ = std::thread([this, official = *model, options, cancel = cancel_] {
    bool ok = false, cancelled = false;
    QString message, path;
    try {
      path = QString::fromStdString(download_model(official, options).string());
      ok = true;
      message = tr("%1 downloaded and verified.").arg(QString::fromStdString(official.name));
    } catch (const DownloadCancelled&) {
      cancelled = true;
      message = tr("Download of %1 cancelled; the partial file is kept and Download resumes it.")
                    .arg(QString::fromStdString(official.name));
    } catch (const std::exception& error) {
      message = QString::fromUtf8(error.what());
    }
    download_done_ = true;
    QMetaObject::invokeMethod(
        this,
        [this, name = QString::fromStdString(official.name), ok, cancelled, message, path] {
          on_download_done(name, ok, cancelled, message, path);
        },
        Qt::QueuedConnection);
  });
  return true;
}

void ModelsDialog::cancel_download() {
  if (cancel_) cancel_->store(true);
}

void ModelsDialog::on_progress(int row, double fraction, const QString& text) {
  if (auto* bar = qobject_cast<QProgressBar*>(table_->cellWidget(row, kStatusColumn))) {
    bar->setValue(static_cast<int>(fraction * 1000));
    bar->setFormat(text);
  }
}

void ModelsDialog::on_download_done(const QString& name, bool ok, bool cancelled, const QString& message,
                                    const QString& path) {
  if (download_thread_.joinable()) download_thread_.join();
  download_row_ = -1;
  refresh();
  show_message(message, !ok && !cancelled);
  emit download_finished(name, ok, message);
  if (ok) emit model_chosen(path);
}

bool ModelsDialog::add_local_file(const QString& path) {
  try {
    const auto model = WhisperModel::load(path.toStdString());
    show_message(tr("%1 (%2) added.")
                     .arg(QFileInfo(path).fileName(), QString::fromStdString(model->hparams().size_name())),
                 false);
  } catch (const std::exception& error) {
    show_message(QString::fromUtf8(error.what()), true);
    return false;
  }
  emit model_chosen(QFileInfo(path).absoluteFilePath());
  return true;
}

void ModelsDialog::choose_local_file() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Add a whisper.cpp model"), QString(),
                                                    tr("ggml models (*.bin);;All files (*)"));
  if (!path.isEmpty() && add_local_file(path)) accept();
}

}  // namespace npuscribe::ui
