// Runs the `npuscribe` binary under test as a child process (the CLI suites share this one runner).
#pragma once

#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace npuscribe::test {

struct CliRun {
  bool finished = false;  // exited normally (not crashed, not timed out)
  int exit_code = -1;
  QString out;
  QString err;
};

// The caller's environment without NPUSCRIBE_MODEL, so a model set in the developer's shell cannot change
// what a test sees.
QProcessEnvironment clean_cli_environment();

CliRun run_npuscribe(const QStringList& arguments,
                     const QProcessEnvironment& environment = clean_cli_environment(),
                     int timeout_ms = 600'000);

}  // namespace npuscribe::test
