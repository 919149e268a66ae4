// The dictation widget the main window embeds: record / pause, input device, level meter, the live text
// (confirmed in the theme's text colour, unconfirmed grey italic), copy to clipboard and "type into the
// focused window". It drives a DictationController it does not own.
#pragma once

#include <QWidget>

class DictationController;
class TextTyper;
class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTextBrowser;

class DictationPanel : public QWidget {
  Q_OBJECT

 public:
  explicit DictationPanel(DictationController* controller, QWidget* parent = nullptr);

  DictationController* controller() const { return controller_; }
  QString plainText() const;  // confirmed + unconfirmed as shown

 public slots:
  void toggleRecording();  // record when idle, stop when recording (the main window's shortcut)
  void copyToClipboard();

 private:
  void updateDevices();
  void updateState(int state);
  void updateText(const QString& confirmed, const QString& unconfirmed);

  DictationController* controller_;
  TextTyper* typer_ = nullptr;
  QPushButton* record_ = nullptr;
  QPushButton* pause_ = nullptr;
  QPushButton* refresh_ = nullptr;
  QComboBox* devices_ = nullptr;
  QProgressBar* level_ = nullptr;
  QLabel* status_ = nullptr;
  QTextBrowser* text_ = nullptr;
  QPushButton* copy_ = nullptr;
  QCheckBox* type_into_window_ = nullptr;
  QString confirmed_, unconfirmed_;
};
