#include "cli_runner.h"

#include <immintrin.h>

#include <QProcess>

namespace npuscribe::test {

namespace {

// On this platform (Qt 6 QProcess::start, Linux 6.18 under Firecracker), starting a child leaves the parent
// thread's upper AVX register state dirty, and every legacy-SSE instruction after that pays a transition
// penalty: in-process work after the first QProcess ran 7-10x slower. A VZEROUPPER (the binary under test
// requires AVX2 anyway) puts the state back. The upper halves are call-clobbered, so this is safe here.
__attribute__((target("avx"))) void clear_upper_vector_state() {
  _mm256_zeroupper();
}

}  // namespace

QProcessEnvironment clean_cli_environment() {
  QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
  environment.remove("NPUSCRIBE_MODEL");
  return environment;
}

CliRun run_npuscribe(const QStringList& arguments, const QProcessEnvironment& environment, int timeout_ms) {
  QProcess process;
  process.setProcessEnvironment(environment);
  process.start(QStringLiteral(NPUSCRIBE_CLI_PATH), arguments);
  CliRun result;
  const bool finished = process.waitForStarted(10'000) && process.waitForFinished(timeout_ms);
  if (!finished) {
    process.kill();
    process.waitForFinished(5'000);
  } else {
    result.finished = process.exitStatus() == QProcess::NormalExit;
    result.exit_code = process.exitCode();
  }
  result.out = QString::fromUtf8(process.readAllStandardOutput());
  result.err = QString::fromUtf8(process.readAllStandardError());
  clear_upper_vector_state();
  return result;
}

}  // namespace npuscribe::test
