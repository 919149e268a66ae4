#include "settings/app_settings.h"

#include <QSettings>
#include <QStringList>
#include <algorithm>

namespace npuscribe::ui {

QString theme_choice_name(ThemeChoice choice) {
  switch (choice) {
    case ThemeChoice::light:
      return "light";
    case ThemeChoice::dark:
      return "dark";
    case ThemeChoice::system:
      break;
  }
  return "system";
}

ThemeChoice parse_theme_choice(const QString& name) {
  if (name == "light") return ThemeChoice::light;
  if (name == "dark") return ThemeChoice::dark;
  return ThemeChoice::system;
}

AppSettings AppSettings::load(QSettings& settings) {
  AppSettings loaded;
  const AppSettings defaults;
  loaded.model_path = settings.value("model/path", defaults.model_path).toString();
  loaded.local_models = settings.value("model/local", QStringList()).toStringList();
  loaded.backend = settings.value("engine/backend", defaults.backend).toString();
  loaded.language = settings.value("engine/language", defaults.language).toString();
  loaded.input_device = settings.value("dictation/input_device", defaults.input_device).toString();
  // Clamped: a hand-edited file must not hand the VAD an invalid mode.
  loaded.vad_sensitivity =
      std::clamp(settings.value("dictation/vad_sensitivity", defaults.vad_sensitivity).toInt(), 0, 3);
  loaded.export_folder = settings.value("export/folder", defaults.export_folder).toString();
  loaded.theme = parse_theme_choice(settings.value("ui/theme", "system").toString());
  loaded.window_geometry = settings.value("ui/geometry").toByteArray();
  loaded.window_state = settings.value("ui/state").toByteArray();
  return loaded;
}

void AppSettings::save(QSettings& settings) const {
  settings.setValue("model/path", model_path);
  settings.setValue("model/local", local_models);
  settings.setValue("engine/backend", backend);
  settings.setValue("engine/language", language);
  settings.setValue("dictation/input_device", input_device);
  settings.setValue("dictation/vad_sensitivity", vad_sensitivity);
  settings.setValue("export/folder", export_folder);
  settings.setValue("ui/theme", theme_choice_name(theme));
  settings.setValue("ui/geometry", window_geometry);
  settings.setValue("ui/state", window_state);
  settings.sync();
}

AppSettings AppSettings::load() {
  QSettings settings;
  return load(settings);
}

void AppSettings::save() const {
  QSettings settings;
  save(settings);
}

}  // namespace npuscribe::ui
