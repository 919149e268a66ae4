// `npuscribe profile`: the trace it writes (tracks per NPU tile for npu-sim, every CPU kernel on cpu) and
// the statistics it prints.
#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <map>
#include <set>

#include "cli_runner.h"
#include "test_support.h"

using namespace npuscribe;

namespace {

using RunResult = test::CliRun;

RunResult run_cli(const QStringList& arguments) {
  return test::run_npuscribe(arguments);
}

QString describe(const RunResult& result) {
  return QStringLiteral("exit %1\nstdout: %2\nstderr: %3")
      .arg(result.exit_code)
      .arg(result.out.left(3000), result.err);
}

struct Trace {
  std::map<QString, int> pid_of;                  // backend -> pid
  std::map<std::pair<int, int>, QString> tracks;  // (pid, tid) -> name
  std::vector<QJsonObject> events;                // complete events
};

Trace read_trace(const std::filesystem::path& path) {
  QFile file(QString::fromStdString(path.string()));
  Trace trace;
  if (!file.open(QIODevice::ReadOnly)) return trace;
  const QJsonDocument document = QJsonDocument::fromJson(file.readAll());
  for (const QJsonValue& value : document.object().value("traceEvents").toArray()) {
    const QJsonObject object = value.toObject();
    const QString phase = object.value("ph").toString(), name = object.value("name").toString();
    if (phase == "M" && name == "process_name")
      trace.pid_of[object.value("args").toObject().value("name").toString()] = object.value("pid").toInt();
    if (phase == "M" && name == "thread_name")
      trace.tracks[{object.value("pid").toInt(), object.value("tid").toInt()}] =
          object.value("args").toObject().value("name").toString();
    if (phase == "X") trace.events.push_back(object);
  }
  return trace;
}

}  // namespace

class TestProfileCli : public QObject {
  Q_OBJECT

  QString model_ = QString::fromStdString(test::fixture("ggml-tiny.en-random.bin").string());
  QString jfk_ = QString::fromStdString(test::fixture("jfk.wav").string());
  const QStringList fast_ = {"--threads", "2", "--beam", "1", "--temperature-increment", "0"};

 private slots:
  void npu_sim_trace_has_a_track_per_tile() {
    test::TempDir dir;
    const auto trace_path = dir.file("sim.json");
    const RunResult result =
        run_cli(QStringList{"profile", "--model", model_, "--audio", jfk_, "--backend", "npu-sim", "--trace",
                            QString::fromStdString(trace_path.string())} +
                fast_);
    QVERIFY2(result.exit_code == 0, qPrintable(describe(result)));
    const Trace trace = read_trace(trace_path);
    QVERIFY2(!trace.events.empty(), "no events in the trace");
    QVERIFY(trace.pid_of.count("npu-sim") && trace.pid_of.count("cpu"));
    const int sim = trace.pid_of.at("npu-sim");

    std::set<QString> expected;
    for (int column = 0; column < 4; ++column) {
      for (int row = 2; row <= 5; ++row)
        expected.insert(QStringLiteral("tile (col %1, row %2)").arg(column).arg(row));
      expected.insert(QStringLiteral("memtile col %1").arg(column));
      expected.insert(QStringLiteral("shim col %1").arg(column));
    }
    std::set<QString> sim_tracks;
    for (const auto& [key, name] : trace.tracks)
      if (key.first == sim) sim_tracks.insert(name);
    for (const QString& name : expected) QVERIFY2(sim_tracks.count(name), qPrintable(name));

    // Every tile event is modelled and has a positive duration; the CPU's events are measured.
    int tile_events = 0;
    for (const QJsonObject& event : trace.events) {
      const QJsonObject args = event.value("args").toObject();
      const QString track = trace.tracks.at({event.value("pid").toInt(), event.value("tid").toInt()});
      QVERIFY(event.value("dur").toDouble() >= 0.0);
      if (event.value("pid").toInt() == sim && track != "host") {
        ++tile_events;
        QCOMPARE(args.value("timing").toString(), QString("modelled"));
        QVERIFY2(event.value("dur").toDouble() > 0.0, qPrintable(event.value("name").toString()));
      }
      if (event.value("pid").toInt() == trace.pid_of.at("cpu"))
        QCOMPARE(args.value("timing").toString(), QString("measured"));
    }
    QVERIFY(tile_events >= 16);

    for (const char* text : {"p50", "p95", "GOP/s", "modelled", "measured", "tile (col 3, row 5)",
                             "memtile col 0", "compute", "data movement", "launches"})
      QVERIFY2(result.out.contains(text), qPrintable(QString(text) + " missing\n" + describe(result)));
  }

  void cpu_trace_covers_every_kernel() {
    test::TempDir dir;
    const auto trace_path = dir.file("cpu.json");
    const RunResult result =
        run_cli(QStringList{"profile", "--model", model_, "--audio", jfk_, "--backend", "cpu", "--trace",
                            QString::fromStdString(trace_path.string())} +
                fast_);
    QVERIFY2(result.exit_code == 0, qPrintable(describe(result)));
    const Trace trace = read_trace(trace_path);
    QCOMPARE(trace.pid_of.size(), std::size_t{1});
    QVERIFY(trace.pid_of.count("cpu"));
    std::map<QString, std::set<int>> layers_of;
    for (const QJsonObject& event : trace.events) {
      QCOMPARE(event.value("args").toObject().value("timing").toString(), QString("measured"));
      layers_of[event.value("name").toString()].insert(event.value("args").toObject().value("layer").toInt());
    }
    const int n_layers = 4;  // tiny
    for (const char* kernel : {"encoder.attn_ln", "encoder.qkv", "encoder.attention", "encoder.attn_out",
                               "encoder.mlp_ln", "encoder.mlp"}) {
      QVERIFY2(layers_of.count(kernel), kernel);
      QCOMPARE(layers_of[kernel].size(), std::size_t(n_layers));
      QCOMPARE(*layers_of[kernel].begin(), 0);
      QCOMPARE(*layers_of[kernel].rbegin(), n_layers - 1);
    }
    for (const char* kernel : {"encoder.conv1", "encoder.conv2", "encoder.post_norm", "decoder.cross_kv",
                               "decoder.step", "decoder.logits"})
      QVERIFY2(layers_of.count(kernel), kernel);
    // No tiles on the CPU: no utilisation table.
    QVERIFY2(!result.out.contains("tile (col"), qPrintable(describe(result)));
    QVERIFY2(result.out.contains("encoder.qkv"), qPrintable(describe(result)));
  }

  void unknown_backend_is_a_usage_error() {
    const RunResult result =
        run_cli(QStringList{"profile", "--model", model_, "--audio", jfk_, "--backend", "gpu"} + fast_);
    QVERIFY2(result.exit_code == 2, qPrintable(describe(result)));
    QVERIFY2(result.err.contains("gpu") && result.err.contains("npu-sim"), qPrintable(describe(result)));
  }

  void unwritable_trace_is_a_runtime_error() {
    const RunResult result = run_cli(QStringList{"profile", "--model", model_, "--audio", jfk_, "--backend",
                                                 "cpu", "--trace", "/no/such/dir/t.json"} +
                                     fast_);
    QVERIFY2(result.exit_code == 1, qPrintable(describe(result)));
    QVERIFY2(result.err.contains("/no/such/dir/t.json"), qPrintable(describe(result)));
  }
};

QTEST_GUILESS_MAIN(TestProfileCli)
#include "test_profile_cli.moc"
