// Everything the app remembers between runs, as one value struct read from and written to QSettings.
// Tests point QSettings at a temporary directory (QStandardPaths test mode or QSettings::setPath).
#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

class QSettings;

namespace npuscribe::ui {

enum class ThemeChoice { system = 0, light = 1, dark = 2 };

struct AppSettings {
  QString model_path;         // a ggml file; empty: none chosen yet
  QString backend = "auto";   // "cpu", "npu", "npu-sim", "auto" (core's parse_backend_kind names)
  QString language = "auto";  // "auto" or a Whisper language code
  QString input_device;       // PortAudio device name; empty: the system default
  int vad_sensitivity = 2;    // 0 (lenient) .. 3 (strict), WebRTC VAD aggressiveness
  QString export_folder;      // empty: beside the audio file
  ThemeChoice theme = ThemeChoice::system;
  QByteArray window_geometry;  // QWidget::saveGeometry
  QByteArray window_state;     // QMainWindow::saveState
  QStringList local_models;    // ggml files added by the user (file dialog or drop)

  static AppSettings load(QSettings& settings);
  void save(QSettings& settings) const;
  // The application's QSettings (organisation/application names set in main()).
  static AppSettings load();
  void save() const;

  bool operator==(const AppSettings&) const = default;
};

QString theme_choice_name(ThemeChoice choice);
ThemeChoice parse_theme_choice(const QString& name);  // unknown names: system

}  // namespace npuscribe::ui
