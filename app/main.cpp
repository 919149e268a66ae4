// npuscribe: the desktop app by default, the command line when given a subcommand or files.
#include <cstdio>

#include "cli.h"

#ifdef NPUSCRIBE_HAVE_GUI
#include <QApplication>

#include "main_window.h"
#include "settings/app_settings.h"
#include "theme.h"
#endif

namespace {
// The numeric code is built for x86-64-v3; on an older CPU say so instead of dying on an illegal instruction.
// This file itself is compiled for the baseline ISA, so the check is safe to run anywhere.
bool cpu_is_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
}  // namespace

int main(int argc, char** argv) {
  if (!cpu_is_supported()) {
    std::fprintf(stderr,
                 "error: this CPU lacks AVX2, FMA or F16C, which npuscribe needs (any x86-64 CPU from "
                 "2015 on has them). Build from source with -DNPUSCRIBE_CPU_ARCH=native to try anyway.\n");
    return 1;
  }
  if (wants_cli(argc, argv)) return run_cli(argc, argv);
#ifdef NPUSCRIBE_HAVE_GUI
  // Fractional scale factors (150 %) render at that scale instead of rounding to 1x or 2x.
  QApplication::setHighDpiScaleFactorRoundingPolicy(Qt::HighDpiScaleFactorRoundingPolicy::PassThrough);
  QApplication application(argc, argv);
  QApplication::setApplicationName("npuscribe");
  QApplication::setOrganizationName("npuscribe");
  QApplication::setDesktopFileName("npuscribe");
  npuscribe::ui::remember_platform_palette(QApplication::palette());
  npuscribe::ui::apply_theme(npuscribe::ui::AppSettings::load().theme);
  npuscribe::ui::MainWindow window;
  window.show();
  return application.exec();
#else
  return run_cli(argc, argv);
#endif
}
