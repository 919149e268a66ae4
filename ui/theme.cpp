#include "theme.h"

#include <QApplication>
#include <QProcess>
#include <QStandardPaths>
#include <QStyleFactory>
#include <optional>

namespace npuscribe::ui {
namespace {

std::optional<QPalette> g_platform_palette;
bool g_dark = false;

bool palette_is_dark(const QPalette& palette) {
  return palette.color(QPalette::Window).lightness() < palette.color(QPalette::WindowText).lightness();
}

// GNOME 42+ and the freedesktop portal both mirror this key; a missing gsettings or schema answers "no".
std::optional<bool> gnome_prefers_dark() {
  if (QStandardPaths::findExecutable("gsettings").isEmpty()) return std::nullopt;
  QProcess process;
  process.start("gsettings", {"get", "org.gnome.desktop.interface", "color-scheme"});
  // Bounded: a hung D-Bus must never delay the window by more than a moment.
  if (!process.waitForFinished(400)) {
    process.kill();
    process.waitForFinished(100);
    return std::nullopt;
  }
  if (process.exitCode() != 0) return std::nullopt;
  const QString answer = QString::fromUtf8(process.readAllStandardOutput()).trimmed();
  if (answer.contains("dark")) return true;
  if (answer.contains("light")) return false;
  return std::nullopt;  // 'default': no preference stated
}

QString style_sheet(bool dark, const ThemeColors& colors) {
  const QString border = colors.border.name();
  const QString card = colors.card.name();
  const QString muted = colors.muted_text.name();
  const QString accent = colors.accent.name();
  return QStringLiteral(R"(
QToolBar { border: none; spacing: 6px; padding: 4px 8px; }
QStatusBar { border-top: 1px solid %1; }
QStatusBar QLabel { padding: 0 6px; }
QTabWidget::pane { border: 1px solid %1; border-radius: 6px; top: -1px; }
QTabBar::tab { padding: 6px 16px; border: none; margin-right: 2px; color: %3; }
QTabBar::tab:selected { color: palette(window-text); border-bottom: 2px solid %4; }
QTabBar::tab:hover { color: palette(window-text); }
QFrame#card { background: %2; border: 1px solid %1; border-radius: 8px; }
QLabel#muted { color: %3; }
QLabel#heading { font-weight: 600; }
QLabel#tag { border: 1px solid %1; border-radius: 8px; padding: 1px 8px; color: %3; }
QProgressBar { border: none; border-radius: 3px; background: %1; max-height: 6px; }
QProgressBar::chunk { border-radius: 3px; background: %4; }
QPushButton#primary { background: %4; color: %5; border: none; border-radius: 5px; padding: 5px 14px; }
QPushButton#primary:disabled { background: %1; color: %3; }
QPushButton#record { background: %6; color: white; border: none; border-radius: 5px; padding: 5px 14px; font-weight: 600; }
QTableWidget { gridline-color: transparent; border: none; }
QHeaderView::section { border: none; border-bottom: 1px solid %1; padding: 4px 6px; background: palette(base); color: %3; }
)")
      .arg(border, card, muted, accent, colors.accent_text.name(), dark ? "#d2453a" : "#d93b30");
}

}  // namespace

void remember_platform_palette(const QPalette& palette) {
  if (!g_platform_palette) g_platform_palette = palette;
}

bool system_prefers_dark() {
  const QString gtk_theme = qEnvironmentVariable("GTK_THEME");
  if (!gtk_theme.isEmpty()) return gtk_theme.contains(":dark", Qt::CaseInsensitive);
  if (const std::optional<bool> gnome = gnome_prefers_dark()) return *gnome;
  return g_platform_palette && palette_is_dark(*g_platform_palette);
}

QPalette theme_palette(bool dark) {
  QPalette palette;
  const QColor window = dark ? QColor("#1e1f22") : QColor("#f4f5f7");
  const QColor base = dark ? QColor("#16171a") : QColor("#ffffff");
  const QColor alternate = dark ? QColor("#1b1c1f") : QColor("#f7f8fa");
  const QColor text = dark ? QColor("#e4e6ea") : QColor("#1c1e22");
  const QColor button = dark ? QColor("#2a2c30") : QColor("#ffffff");
  const QColor disabled = dark ? QColor("#6b6f76") : QColor("#a0a4ab");
  const QColor highlight = dark ? QColor("#3f7fe0") : QColor("#2f6fde");
  palette.setColor(QPalette::Window, window);
  palette.setColor(QPalette::WindowText, text);
  palette.setColor(QPalette::Base, base);
  palette.setColor(QPalette::AlternateBase, alternate);
  palette.setColor(QPalette::ToolTipBase, dark ? QColor("#2a2c30") : QColor("#ffffff"));
  palette.setColor(QPalette::ToolTipText, text);
  palette.setColor(QPalette::PlaceholderText, disabled);
  palette.setColor(QPalette::Text, text);
  palette.setColor(QPalette::Button, button);
  palette.setColor(QPalette::ButtonText, text);
  palette.setColor(QPalette::BrightText, Qt::white);
  palette.setColor(QPalette::Highlight, highlight);
  palette.setColor(QPalette::HighlightedText, Qt::white);
  palette.setColor(QPalette::Link, highlight);
  palette.setColor(QPalette::Light, dark ? QColor("#3a3d42") : QColor("#ffffff"));
  palette.setColor(QPalette::Midlight, dark ? QColor("#32353a") : QColor("#e6e8ec"));
  palette.setColor(QPalette::Mid, dark ? QColor("#2a2c30") : QColor("#c9ccd2"));
  palette.setColor(QPalette::Dark, dark ? QColor("#111214") : QColor("#9da1a8"));
  palette.setColor(QPalette::Shadow, QColor(0, 0, 0, dark ? 160 : 60));
  for (const QPalette::ColorRole role :
       {QPalette::WindowText, QPalette::Text, QPalette::ButtonText, QPalette::HighlightedText})
    palette.setColor(QPalette::Disabled, role, disabled);
  palette.setColor(QPalette::Disabled, QPalette::Highlight, dark ? QColor("#34373c") : QColor("#d5d8de"));
  return palette;
}

ThemeColors theme_colors() {
  if (g_dark)
    return {QColor("#5b9bf0"), QColor("#ffffff"), QColor("#9aa0a8"), QColor("#4cb782"),
            QColor("#f0706a"), QColor("#e0b050"), QColor("#24262a"), QColor("#34373c")};
  return {QColor("#2f6fde"), QColor("#ffffff"), QColor("#6a7079"), QColor("#238a57"),
          QColor("#c9362c"), QColor("#a36d00"), QColor("#ffffff"), QColor("#dcdfe4")};
}

bool theme_is_dark() {
  return g_dark;
}

bool apply_theme(ThemeChoice choice) {
  auto* application = qobject_cast<QApplication*>(QCoreApplication::instance());
  if (!application) return false;
  remember_platform_palette(QApplication::palette());
  g_dark = choice == ThemeChoice::dark || (choice == ThemeChoice::system && system_prefers_dark());
  if (QStyle* fusion = QStyleFactory::create("Fusion")) QApplication::setStyle(fusion);
  QApplication::setPalette(theme_palette(g_dark));
  application->setStyleSheet(style_sheet(g_dark, theme_colors()));
  return g_dark;
}

}  // namespace npuscribe::ui
