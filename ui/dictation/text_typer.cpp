#include "dictation/text_typer.h"

#include <dlfcn.h>

#include <QProcess>
#include <QStandardPaths>

namespace {

// The few Xlib / XTest entry points used, resolved at run time.
using XOpenDisplayFn = void* (*)(const char*);
using XCloseDisplayFn = int (*)(void*);
using XFlushFn = int (*)(void*);
using XStringToKeysymFn = unsigned long (*)(const char*);
using XKeysymToKeycodeFn = unsigned char (*)(void*, unsigned long);
using XTestFakeKeyEventFn = int (*)(void*, unsigned int, int, unsigned long);
using XDefaultRootWindowFn = unsigned long (*)(void*);
using XGetKeyboardMappingFn = unsigned long* (*)(void*, unsigned char, int, int*);
using XChangeKeyboardMappingFn = int (*)(void*, int, int, unsigned long*, int);
using XFreeFn = int (*)(void*);
using XSyncFn = int (*)(void*, int);
using XDisplayKeycodesFn = int (*)(void*, int*, int*);

template <typename Fn>
Fn symbol(void* library, const char* name) {
  return reinterpret_cast<Fn>(dlsym(library, name));
}

}  // namespace

TextTyper::TextTyper(QObject* parent) : QObject(parent) {
  const bool wayland = !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
  if (!wayland && !qEnvironmentVariableIsEmpty("DISPLAY")) {
    xlib_ = dlopen("libX11.so.6", RTLD_NOW | RTLD_LOCAL);
    xtst_ = dlopen("libXtst.so.6", RTLD_NOW | RTLD_LOCAL);
    if (xlib_ && xtst_) {
      display_ = symbol<XOpenDisplayFn>(xlib_, "XOpenDisplay")(nullptr);
      if (display_) {
        method_ = Method::XTest;
        return;
      }
      reason_ = tr("Cannot open the X display to type text.");
    } else {
      reason_ = tr("Typing into other windows needs libXtst (install libxtst6).");
    }
  }
  if (const QString wtype = QStandardPaths::findExecutable("wtype"); wayland && !wtype.isEmpty()) {
    method_ = Method::Wtype;
    tool_path_ = wtype;
  } else if (const QString ydotool = QStandardPaths::findExecutable("ydotool"); !ydotool.isEmpty()) {
    method_ = Method::Ydotool;
    tool_path_ = ydotool;
  } else if (wayland) {
    reason_ =
        tr("Typing into other windows on Wayland needs wtype or ydotool; install one of them "
           "(sudo apt install wtype).");
  } else if (reason_.isEmpty()) {
    reason_ = tr("No display to type into (neither X11 nor Wayland).");
  }
}

TextTyper::~TextTyper() {
  if (display_) symbol<XCloseDisplayFn>(xlib_, "XCloseDisplay")(display_);
  if (xtst_) dlclose(xtst_);
  if (xlib_) dlclose(xlib_);
}

void TextTyper::type(const QString& text) {
  if (text.isEmpty()) return;
  switch (method_) {
    case Method::None:
      emit errorOccurred(reason_);
      return;
    case Method::XTest:
      if (!typeWithXTest(text)) emit errorOccurred(tr("Could not type the text through XTest."));
      return;
    case Method::Wtype:
    case Method::Ydotool: {
      const QStringList arguments =
          method_ == Method::Wtype ? QStringList{text} : QStringList{"type", "--", text};
      auto* process = new QProcess(this);
      connect(process, &QProcess::finished, this, [this, process](int code, QProcess::ExitStatus status) {
        if (status != QProcess::NormalExit || code != 0)
          emit errorOccurred(
              tr("%1 failed: %2").arg(tool_path_, QString::fromLocal8Bit(process->readAllStandardError())));
        process->deleteLater();
      });
      process->start(tool_path_, arguments);
      return;
    }
  }
}

bool TextTyper::typeWithXTest(const QString& text) {
  auto fake_key = symbol<XTestFakeKeyEventFn>(xtst_, "XTestFakeKeyEvent");
  auto get_mapping = symbol<XGetKeyboardMappingFn>(xlib_, "XGetKeyboardMapping");
  auto change_mapping = symbol<XChangeKeyboardMappingFn>(xlib_, "XChangeKeyboardMapping");
  auto display_keycodes = symbol<XDisplayKeycodesFn>(xlib_, "XDisplayKeycodes");
  auto x_free = symbol<XFreeFn>(xlib_, "XFree");
  auto x_sync = symbol<XSyncFn>(xlib_, "XSync");
  auto x_flush = symbol<XFlushFn>(xlib_, "XFlush");
  if (!fake_key || !get_mapping || !change_mapping || !display_keycodes || !x_free || !x_sync || !x_flush)
    return false;
  // Any character, whatever the keyboard layout: map its keysym onto a spare keycode (one with no
  // keysyms), press it, restore the mapping. Unicode keysyms are 0x1000000 + code point.
  int min_code = 0, max_code = 0;
  display_keycodes(display_, &min_code, &max_code);
  int per_code = 0;
  unsigned long* mapping =
      get_mapping(display_, static_cast<unsigned char>(min_code), max_code - min_code + 1, &per_code);
  if (!mapping) return false;
  int spare = -1;
  for (int code = max_code; code >= min_code && spare < 0; --code) {
    bool empty = true;
    for (int i = 0; i < per_code; ++i) empty = empty && mapping[(code - min_code) * per_code + i] == 0;
    if (empty) spare = code;
  }
  x_free(mapping);
  if (spare < 0) return false;
  for (const uint code_point : text.toUcs4()) {
    unsigned long keysym = code_point < 0x100 && code_point >= 0x20 ? code_point : 0x1000000 + code_point;
    if (code_point == '\n') keysym = 0xff0d;  // Return
    unsigned long syms[2] = {keysym, keysym};
    change_mapping(display_, spare, 2, syms, 1);
    x_sync(display_, 0);
    fake_key(display_, static_cast<unsigned>(spare), 1, 0);
    fake_key(display_, static_cast<unsigned>(spare), 0, 0);
    x_sync(display_, 0);
  }
  unsigned long none[2] = {0, 0};
  change_mapping(display_, spare, 2, none, 1);
  x_flush(display_);
  return true;
}
