#pragma once
#include <QMainWindow>
namespace npuscribe::ui {
class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
};
}  // namespace npuscribe::ui
