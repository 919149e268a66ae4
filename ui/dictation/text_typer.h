// Types confirmed dictation text into the focused window of another program: X11 through the XTest
// extension (libXtst, opened at run time so Wayland sessions need no X libraries), on Wayland through
// wtype or ydotool when installed. available() says which, or why none can work.
#pragma once

#include <QObject>
#include <QString>

class TextTyper : public QObject {
  Q_OBJECT

 public:
  enum class Method { None, XTest, Wtype, Ydotool };
  explicit TextTyper(QObject* parent = nullptr);
  ~TextTyper() override;

  Method method() const { return method_; }
  bool available() const { return method_ != Method::None; }
  // Why typing is unavailable (empty when it is available), for the user.
  QString unavailableReason() const { return reason_; }

 public slots:
  // Types the text into whatever window has the keyboard focus; errors go to errorOccurred.
  void type(const QString& text);

 signals:
  void errorOccurred(const QString& message);

 private:
  bool typeWithXTest(const QString& text);
  Method method_ = Method::None;
  QString reason_;
  QString tool_path_;
  void* xlib_ = nullptr;
  void* xtst_ = nullptr;
  void* display_ = nullptr;
};
