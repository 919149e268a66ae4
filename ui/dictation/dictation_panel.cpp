#include "dictation/dictation_panel.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollBar>
#include <QTextBrowser>
#include <QVBoxLayout>

#include "dictation/dictation_controller.h"
#include "dictation/text_typer.h"

DictationPanel::DictationPanel(DictationController* controller, QWidget* parent)
    : QWidget(parent), controller_(controller), typer_(new TextTyper(this)) {
  record_ = new QPushButton(tr("Record"), this);
  record_->setObjectName("recordButton");
  record_->setToolTip(tr("Start or stop dictation"));
  pause_ = new QPushButton(tr("Pause"), this);
  pause_->setObjectName("pauseButton");
  pause_->setEnabled(false);
  devices_ = new QComboBox(this);
  devices_->setObjectName("inputDeviceCombo");
  devices_->setToolTip(tr("Input device"));
  devices_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  devices_->setMinimumContentsLength(16);
  refresh_ = new QPushButton(tr("Refresh"), this);
  refresh_->setToolTip(tr("Look for newly connected microphones"));
  level_ = new QProgressBar(this);
  level_->setObjectName("levelMeter");
  level_->setRange(-60, 0);
  level_->setValue(-60);
  level_->setTextVisible(false);
  level_->setMaximumHeight(10);
  level_->setToolTip(tr("Input level (dBFS)"));
  status_ = new QLabel(this);
  text_ = new QTextBrowser(this);
  text_->setObjectName("dictationText");
  text_->setPlaceholderText(
      tr("Press Record and speak. Grey words are still being decided; they turn into "
         "normal text once confirmed."));
  copy_ = new QPushButton(tr("Copy"), this);
  copy_->setObjectName("copyButton");
  type_into_window_ = new QCheckBox(tr("Type into focused window"), this);
  type_into_window_->setObjectName("typeIntoWindow");
  if (!typer_->available()) type_into_window_->setToolTip(typer_->unavailableReason());

  auto* controls = new QHBoxLayout;
  controls->addWidget(record_);
  controls->addWidget(pause_);
  controls->addWidget(devices_, 1);
  controls->addWidget(refresh_);
  auto* bottom = new QHBoxLayout;
  bottom->addWidget(status_, 1);
  bottom->addWidget(type_into_window_);
  bottom->addWidget(copy_);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addWidget(level_);
  layout->addWidget(text_, 1);
  layout->addLayout(bottom);

  connect(record_, &QPushButton::clicked, this, &DictationPanel::toggleRecording);
  connect(pause_, &QPushButton::clicked, this,
          [this] { controller_->isPaused() ? controller_->resume() : controller_->pause(); });
  connect(refresh_, &QPushButton::clicked, controller_, &DictationController::refreshDevices);
  connect(devices_, &QComboBox::activated, this,
          [this](int index) { controller_->setInputDevice(devices_->itemData(index).toString()); });
  connect(copy_, &QPushButton::clicked, this, &DictationPanel::copyToClipboard);
  connect(type_into_window_, &QCheckBox::toggled, this, [this](bool on) {
    if (on && !typer_->available()) {
      status_->setText(typer_->unavailableReason());
      type_into_window_->setChecked(false);
    }
  });
  connect(controller_, &DictationController::devicesChanged, this, &DictationPanel::updateDevices);
  connect(controller_, &DictationController::stateChanged, this, &DictationPanel::updateState);
  connect(controller_, &DictationController::textChanged, this, &DictationPanel::updateText);
  connect(controller_, &DictationController::levelChanged, this,
          [this](float dbfs) { level_->setValue(std::clamp(static_cast<int>(dbfs), -60, 0)); });
  connect(controller_, &DictationController::errorOccurred, status_, &QLabel::setText);
  connect(controller_, &DictationController::latencyMeasured, this, [this](double first_s, double lag_s) {
    if (lag_s >= 0)
      status_->setText(
          tr("first words %1 s, confirmed %2 s behind").arg(first_s, 0, 'f', 1).arg(lag_s, 0, 'f', 1));
  });
  connect(controller_, &DictationController::confirmedAppended, this, [this](const QString& delta) {
    if (type_into_window_->isChecked()) typer_->type(delta);
  });
  connect(typer_, &TextTyper::errorOccurred, status_, &QLabel::setText);
  updateDevices();
  updateState(controller_->state());
}

void DictationPanel::updateDevices() {
  const QString current = controller_->inputDevice();
  devices_->clear();
  devices_->addItem(tr("Default input"), QString());
  for (const npuscribe::AudioDeviceInfo& device : controller_->inputDevices()) {
    const QString name = QString::fromStdString(device.name);
    devices_->addItem(QStringLiteral("%1 (%2)").arg(name, QString::fromStdString(device.host_api)), name);
  }
  const int index = devices_->findData(current);
  devices_->setCurrentIndex(index >= 0 ? index : 0);
}

void DictationPanel::updateState(int state) {
  const bool recording = state == DictationController::Recording || state == DictationController::Paused;
  record_->setText(recording ? tr("Stop") : tr("Record"));
  record_->setEnabled(state != DictationController::Stopping);
  pause_->setEnabled(recording);
  pause_->setText(state == DictationController::Paused ? tr("Resume") : tr("Pause"));
  devices_->setEnabled(state == DictationController::Idle);
  refresh_->setEnabled(state == DictationController::Idle);
  if (state == DictationController::Idle) level_->setValue(-60);
  status_->setText(state == DictationController::Recording  ? tr("Listening…")
                   : state == DictationController::Paused   ? tr("Paused")
                   : state == DictationController::Stopping ? tr("Finishing the last words…")
                                                            : QString());
}

void DictationPanel::updateText(const QString& confirmed, const QString& unconfirmed) {
  confirmed_ = confirmed;
  unconfirmed_ = unconfirmed;
  // Confirmed text in the palette's text colour, unconfirmed grey and italic.
  const QString grey = palette().color(QPalette::Disabled, QPalette::Text).name();
  QString html = confirmed.toHtmlEscaped();
  if (!unconfirmed.isEmpty())
    html += QStringLiteral("<span style=\"color:%1; font-style:italic\">%2</span>")
                .arg(grey, unconfirmed.toHtmlEscaped());
  QScrollBar* bar = text_->verticalScrollBar();
  const bool at_end = bar->value() >= bar->maximum() - 4;
  text_->setHtml(html);
  if (at_end) bar->setValue(bar->maximum());
}

QString DictationPanel::plainText() const {
  return confirmed_ + unconfirmed_;
}

void DictationPanel::toggleRecording() {
  controller_->isRecording() ? controller_->stop() : controller_->start();
}

void DictationPanel::copyToClipboard() {
  QApplication::clipboard()->setText(confirmed_ + unconfirmed_);
  status_->setText(tr("Copied to the clipboard"));
}
