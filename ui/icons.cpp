#include "icons.h"

#include <QApplication>
#include <QIconEngine>
#include <QPainter>
#include <QPalette>
#include <QSvgRenderer>

namespace npuscribe::ui {
namespace {

// 24x24 stroke drawings; %1 is the colour.
QString shape(IconName name) {
  switch (name) {
    case IconName::open:
      return R"(<path d="M3 7v11a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V9a2 2 0 0 0-2-2h-7l-2-3H5a2 2 0 0 0-2 2z"/>)";
    case IconName::save:
      return R"(<path d="M12 4v11M7 10l5 5 5-5M5 20h14"/>)";
    case IconName::record:
      return R"(<circle cx="12" cy="12" r="6" fill="%1"/>)";
    case IconName::stop:
      return R"(<rect x="7" y="7" width="10" height="10" rx="1.5" fill="%1"/>)";
    case IconName::cancel:
      return R"(<path d="M7 7l10 10M17 7L7 17"/>)";
    case IconName::retry:
      return R"(<path d="M20 12a8 8 0 1 1-2.4-5.7M20 4v5h-5"/>)";
    case IconName::remove:
      return R"(<path d="M5 7h14M10 7V5h4v2M7 7l1 13h8l1-13"/>)";
    case IconName::models:
      return R"(<path d="M12 3l8 4.5v9L12 21l-8-4.5v-9z M4 7.5l8 4.5 8-4.5M12 12v9"/>)";
    case IconName::play:
      return R"(<path d="M8 5l11 7-11 7z" fill="%1"/>)";
    case IconName::copy:
      return R"(<rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a1 1 0 0 1 1-1h9"/>)";
    case IconName::audio:
      return R"(<path d="M9 18V6l11-2v12"/><circle cx="6.5" cy="18" r="2.5"/><circle cx="17.5" cy="16" r="2.5"/>)";
    case IconName::settings:
      return R"(<path d="M4 7h10M18 7h2M4 17h2M10 17h10"/><circle cx="16" cy="7" r="2"/><circle cx="8" cy="17" r="2"/>)";
  }
  return {};
}

class SvgIconEngine : public QIconEngine {
 public:
  SvgIconEngine(IconName name, QColor color) : name_(name), color_(color) {}
  void paint(QPainter* painter, const QRect& rect, QIcon::Mode mode, QIcon::State) override {
    QColor color = color_.isValid() ? color_ : QApplication::palette().color(QPalette::ButtonText);
    if (mode == QIcon::Disabled)
      color = QApplication::palette().color(QPalette::Disabled, QPalette::ButtonText);
    const QString svg =
        QString(R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" )"
                R"(stroke="%1" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">)") +
        shape(name_) + "</svg>";
    QSvgRenderer renderer(svg.arg(color.name()).toUtf8());
    renderer.render(painter, QRectF(rect));
  }
  QPixmap pixmap(const QSize& size, QIcon::Mode mode, QIcon::State state) override {
    return scaledPixmap(size, mode, state, 1.0);
  }
  QPixmap scaledPixmap(const QSize& size, QIcon::Mode mode, QIcon::State state, qreal scale) override {
    QPixmap pixmap(size * scale);
    pixmap.fill(Qt::transparent);
    pixmap.setDevicePixelRatio(scale);
    QPainter painter(&pixmap);
    painter.setRenderHint(QPainter::Antialiasing);
    paint(&painter, QRect(QPoint(0, 0), size), mode, state);
    return pixmap;
  }
  QIconEngine* clone() const override { return new SvgIconEngine(name_, color_); }

 private:
  IconName name_;
  QColor color_;
};

}  // namespace

QIcon make_icon(IconName name, const QColor& color) {
  return QIcon(new SvgIconEngine(name, color));
}

}  // namespace npuscribe::ui
