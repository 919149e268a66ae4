#include "main_window.h"
namespace npuscribe::ui {
MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {}
}  // namespace npuscribe::ui
