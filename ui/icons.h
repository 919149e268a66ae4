// The app's line icons, drawn from small SVG descriptions in the theme's text colour, so they stay sharp
// at any device pixel ratio and follow light and dark themes.
#pragma once

#include <QColor>
#include <QIcon>

namespace npuscribe::ui {

enum class IconName { open, save, record, stop, cancel, retry, remove, models, play, copy, audio, settings };

QIcon make_icon(IconName name, const QColor& color = {});  // invalid colour: the palette's text colour

}  // namespace npuscribe::ui
