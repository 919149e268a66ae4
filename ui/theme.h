// Light and dark themes on the Fusion style. "System" follows the desktop: Debian's Qt 6.4 has no
// QStyleHints::colorScheme, so the desktop's preference is read from GTK_THEME, GNOME's color-scheme key
// and the palette the platform gave the application before we replaced it.
#pragma once

#include <QColor>
#include <QPalette>

#include "settings/app_settings.h"

class QApplication;

namespace npuscribe::ui {

// Call once after the QApplication exists and before apply_theme, to remember the platform's palette.
void remember_platform_palette(const QPalette& palette);

// Whether the desktop prefers a dark appearance.
bool system_prefers_dark();

// Resolves "system" and applies the palette and style sheet to the application. Returns whether dark.
bool apply_theme(ThemeChoice choice);

QPalette theme_palette(bool dark);

// Accent colours the custom-painted widgets share.
struct ThemeColors {
  QColor accent;
  QColor accent_text;
  QColor muted_text;
  QColor success;
  QColor error;
  QColor warning;
  QColor card;
  QColor border;
};
ThemeColors theme_colors();  // for the theme currently applied
bool theme_is_dark();

}  // namespace npuscribe::ui
