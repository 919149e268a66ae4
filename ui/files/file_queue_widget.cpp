#include "files/file_queue_widget.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QResizeEvent>
#include <QStackedWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include "files/file_queue.h"
#include "icons.h"
#include "theme.h"

namespace npuscribe::ui {
namespace {

QToolButton* small_button(IconName icon, const QString& tip, QWidget* parent) {
  auto* button = new QToolButton(parent);
  button->setIcon(make_icon(icon));
  button->setToolTip(tip);
  button->setAutoRaise(true);
  button->setIconSize(QSize(16, 16));
  button->setCursor(Qt::PointingHandCursor);
  return button;
}

QWidget* drop_hint(FileQueueWidget* owner) {
  auto* page = new QWidget(owner);
  auto* layout = new QVBoxLayout(page);
  auto* card = new QFrame(page);
  card->setObjectName("dropArea");
  const ThemeColors colors = theme_colors();
  card->setStyleSheet(
      QString("QFrame#dropArea { border: 2px dashed %1; border-radius: 10px; }").arg(colors.border.name()));
  auto* inner = new QVBoxLayout(card);
  inner->setSpacing(10);
  inner->addStretch(1);
  auto* icon = new QLabel(card);
  icon->setObjectName("dropIcon");
  icon->setAlignment(Qt::AlignCenter);
  auto* title = new QLabel(QObject::tr("Drop audio or video files here"), card);
  title->setObjectName("heading");
  title->setAlignment(Qt::AlignCenter);
  auto* detail =
      new QLabel(QObject::tr("WAV, MP3, FLAC, Ogg, M4A, MP4, MKV, … — or a ggml model (.bin)"), card);
  detail->setObjectName("muted");
  detail->setAlignment(Qt::AlignCenter);
  detail->setWordWrap(true);
  auto* open =
      new QPushButton(make_icon(IconName::open, colors.accent_text), QObject::tr("Open files…"), card);
  open->setObjectName("primary");
  open->setCursor(Qt::PointingHandCursor);
  QObject::connect(open, &QPushButton::clicked, owner, &FileQueueWidget::open_requested);
  auto* button_row = new QHBoxLayout;
  button_row->addStretch();
  button_row->addWidget(open);
  button_row->addStretch();
  inner->addWidget(icon);
  inner->addWidget(title);
  inner->addWidget(detail);
  inner->addLayout(button_row);
  inner->addStretch(1);
  layout->addWidget(card);
  return page;
}

}  // namespace

FileRow::FileRow(FileQueue* queue, int id, QWidget* parent) : QWidget(parent), queue_(queue), id_(id) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(10, 8, 6, 8);
  layout->setSpacing(4);
  auto* top = new QHBoxLayout;
  top->setSpacing(2);
  name_ = new QLabel(this);
  name_->setObjectName("heading");
  name_->setMinimumWidth(60);
  name_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  cancel_ = small_button(IconName::cancel, tr("Cancel"), this);
  retry_ = small_button(IconName::retry, tr("Retry"), this);
  remove_ = small_button(IconName::remove, tr("Remove from the list"), this);
  top->addWidget(name_, 1);
  top->addWidget(retry_);
  top->addWidget(cancel_);
  top->addWidget(remove_);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1000);
  progress_->setTextVisible(false);
  progress_->setFixedHeight(6);
  status_ = new QLabel(this);
  status_->setObjectName("muted");
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addLayout(top);
  layout->addWidget(progress_);
  layout->addWidget(status_);
  connect(cancel_, &QToolButton::clicked, this, [this] { queue_->cancel(id_); });
  connect(retry_, &QToolButton::clicked, this, [this] { queue_->retry(id_); });
  connect(remove_, &QToolButton::clicked, this, [this] { queue_->remove(id_); });
  refresh();
}

void FileRow::refresh() {
  const QueueEntry* entry = queue_->entry(id_);
  if (!entry) return;
  const QFileInfo info(entry->path);
  const QString name = info.fileName();
  name_->setText(name_->fontMetrics().elidedText(name, Qt::ElideMiddle, std::max(60, name_->width())));
  name_->setToolTip(entry->path);
  using State = QueueEntry::State;
  const ThemeColors colors = theme_colors();
  QString status = state_name(entry->state);
  QColor status_color = colors.muted_text;
  switch (entry->state) {
    case State::queued:
      break;
    case State::running:
      status = entry->realtime_factor > 0 ? tr("Transcribing · %1% · %2× real time")
                                                .arg(qRound(entry->fraction * 100))
                                                .arg(entry->realtime_factor, 0, 'f', 1)
                                          : tr("Transcribing · decoding audio…");
      status_color = colors.accent;
      break;
    case State::finished:
      status = entry->result.segments.size() == 1
                   ? tr("Done · 1 segment")
                   : tr("Done · %1 segments").arg(entry->result.segments.size());
      if (entry->result.duration_s > 0)
        status += tr(" · %1 s of audio").arg(entry->result.duration_s, 0, 'f', 1);
      if (!entry->result.warnings.empty())
        status += "\n" + QString::fromStdString(entry->result.warnings.front());
      status_color = entry->result.warnings.empty() ? colors.success : colors.warning;
      break;
    case State::cancelled:
      status = entry->result.segments.size() == 1
                   ? tr("Cancelled · 1 segment kept")
                   : tr("Cancelled · %1 segments kept").arg(entry->result.segments.size());
      break;
    case State::failed:
      status = tr("Failed: %1").arg(entry->error);
      status_color = colors.error;
      break;
  }
  status_->setText(status);
  status_->setStyleSheet(QString("color: %1;").arg(status_color.name()));
  progress_->setVisible(entry->state == State::running || entry->state == State::queued);
  progress_->setValue(static_cast<int>(entry->fraction * 1000));
  const bool active = entry->state == State::running || entry->state == State::queued;
  cancel_->setVisible(active);
  retry_->setVisible(!active);
  remove_->setVisible(entry->state != State::running);
}

QString FileRow::status_text() const {
  return status_->text();
}
bool FileRow::can_cancel() const {
  return !cancel_->isHidden();
}
bool FileRow::can_retry() const {
  return !retry_->isHidden();
}
void FileRow::click_cancel() {
  cancel_->click();
}
void FileRow::click_retry() {
  retry_->click();
}

FileQueueWidget::FileQueueWidget(FileQueue* queue, QWidget* parent) : QWidget(parent), queue_(queue) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  pages_ = new QStackedWidget(this);
  list_ = new QListWidget(this);
  list_->setFrameShape(QFrame::NoFrame);
  list_->setSelectionMode(QAbstractItemView::SingleSelection);
  list_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  list_->setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
  list_->setSpacing(1);
  pages_->addWidget(drop_hint(this));
  pages_->addWidget(list_);
  drop_card_ = findChild<QFrame*>("dropArea");
  drop_icon_ = findChild<QLabel*>("dropIcon");
  apply_colors();
  layout->addWidget(pages_);

  connect(queue_, &FileQueue::entry_added, this, &FileQueueWidget::on_added);
  connect(queue_, &FileQueue::entry_changed, this, &FileQueueWidget::on_changed);
  connect(queue_, &FileQueue::entry_removed, this, &FileQueueWidget::on_removed);
  connect(list_, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* current) {
    emit current_changed(current ? current->data(Qt::UserRole).toInt() : 0);
  });
  update_page();
}

// Colours baked into style sheets follow the theme: re-applied when the application palette changes.
void FileQueueWidget::apply_colors() {
  const ThemeColors colors = theme_colors();
  // A tinted selection keeps the coloured status lines readable (a solid highlight would swallow them).
  QColor tint = colors.accent;
  tint.setAlpha(36);
  list_->setStyleSheet(QString("QListWidget { background: transparent; }"
                               "QListWidget::item { border-left: 3px solid transparent; }"
                               "QListWidget::item:selected { background: rgba(%1,%2,%3,%4); "
                               "border-left: 3px solid %5; }")
                           .arg(tint.red())
                           .arg(tint.green())
                           .arg(tint.blue())
                           .arg(tint.alpha())
                           .arg(colors.accent.name()));
  drop_card_->setStyleSheet(
      QString("QFrame#dropArea { border: 2px dashed %1; border-radius: 10px; }").arg(colors.border.name()));
  drop_icon_->setPixmap(make_icon(IconName::audio, colors.muted_text).pixmap(QSize(40, 40)));
}

void FileQueueWidget::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::PaletteChange && drop_card_) apply_colors();
}

void FileQueueWidget::on_added(int id) {
  auto* item = new QListWidgetItem(list_);
  item->setData(Qt::UserRole, id);
  auto* row_widget = new FileRow(queue_, id, list_);
  list_->setItemWidget(item, row_widget);
  items_[id] = item;
  fit_row(id);
  update_page();
  if (!list_->currentItem()) list_->setCurrentItem(item);
}

void FileQueueWidget::on_changed(int id) {
  if (FileRow* row_widget = row(id)) row_widget->refresh();
  fit_row(id);
}

// The status may wrap to several lines (an error message): the list item takes the row's height for the
// list's width.
void FileQueueWidget::fit_row(int id) {
  const auto found = items_.find(id);
  if (found == items_.end()) return;
  QWidget* row_widget = list_->itemWidget(found->second);
  const int width = list_->viewport()->width() - 2 * list_->spacing();
  const int height = row_widget->layout()->hasHeightForWidth()
                         ? row_widget->layout()->totalHeightForWidth(width)
                         : row_widget->sizeHint().height();
  found->second->setSizeHint(QSize(width, height));
}

void FileQueueWidget::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  for (const auto& [id, item] : items_) {
    if (FileRow* row_widget = row(id)) row_widget->refresh();  // re-elide the name
    fit_row(id);
  }
}

void FileQueueWidget::on_removed(int id) {
  const auto found = items_.find(id);
  if (found == items_.end()) return;
  delete found->second;
  items_.erase(found);
  update_page();
}

void FileQueueWidget::update_page() {
  pages_->setCurrentIndex(items_.empty() ? 0 : 1);
}

int FileQueueWidget::current_id() const {
  const QListWidgetItem* current = list_->currentItem();
  return current ? current->data(Qt::UserRole).toInt() : 0;
}

void FileQueueWidget::set_current(int id) {
  if (const auto found = items_.find(id); found != items_.end()) list_->setCurrentItem(found->second);
}

int FileQueueWidget::row_count() const {
  return static_cast<int>(items_.size());
}

FileRow* FileQueueWidget::row(int id) const {
  const auto found = items_.find(id);
  return found == items_.end() ? nullptr : static_cast<FileRow*>(list_->itemWidget(found->second));
}

}  // namespace npuscribe::ui
