// Chrome-trace / Perfetto export: the JSON parses, has one process per backend, one named track per NPU
// tile, complete events in microseconds relative to the first event, and says measured or modelled.
#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "backend/npu/npu_device.h"
#include "profile/trace.h"
#include "test_support.h"
#include "util/error.h"

using namespace npuscribe;

namespace {

KernelEvent make_event(std::string kernel, std::string backend, std::int64_t start_ns,
                       std::int64_t duration_ns, int tile, TimingSource source, int layer = -1) {
  KernelEvent event;
  event.kernel = std::move(kernel);
  event.backend = std::move(backend);
  event.start_ns = start_ns;
  event.duration_ns = duration_ns;
  event.tile = tile;
  event.source = source;
  event.layer = layer;
  event.bytes_moved = 4096;
  event.operations = 1'000'000;
  return event;
}

std::vector<KernelEvent> sample_events() {
  return {
      make_event("encoder.conv1", "cpu", 1'000'000, 2'500'000, kHostTile, TimingSource::measured),
      make_event("npu.launch", "npu-sim", 4'000'000, 135'000, kHostTile, TimingSource::modelled, 0),
      make_event("npu.gemm.qkv", "npu-sim", 4'200'000, 50'500, compute_tile_id(0, 2), TimingSource::modelled,
                 0),
      make_event("npu.gemm.qkv", "npu-sim", 4'200'000, 48'000, compute_tile_id(3, 5), TimingSource::modelled,
                 0),
      make_event("npu.dma.weights", "npu-sim", 4'150'000, 20'000, memtile_id(1), TimingSource::modelled, 0),
      make_event("npu.dma.weights", "npu-sim", 4'140'000, 10'000, shim_tile_id(2), TimingSource::modelled, 0),
  };
}

QJsonDocument parse(const std::string& text) {
  QJsonParseError error{};
  const QJsonDocument document = QJsonDocument::fromJson(QByteArray::fromStdString(text), &error);
  if (error.error != QJsonParseError::NoError) qWarning() << error.errorString();
  return document;
}

}  // namespace

class TestTraceExport : public QObject {
  Q_OBJECT

 private slots:
  void tile_track_names() {
    QCOMPARE(tile_track_name(kHostTile), std::string("host"));
    QCOMPARE(tile_track_name(compute_tile_id(0, 2)), std::string("tile (col 0, row 2)"));
    QCOMPARE(tile_track_name(compute_tile_id(3, 5)), std::string("tile (col 3, row 5)"));
    QCOMPARE(tile_track_name(compute_tile_id(1, 3)), std::string("tile (col 1, row 3)"));
    QCOMPARE(tile_track_name(memtile_id(0)), std::string("memtile col 0"));
    QCOMPARE(tile_track_name(shim_tile_id(3)), std::string("shim col 3"));
  }

  void processes_tracks_and_events() {
    const std::vector<KernelEvent> events = sample_events();
    const QJsonDocument document = parse(chrome_trace_json(events));
    QVERIFY(document.isObject());
    const QJsonArray trace = document.object().value("traceEvents").toArray();
    QVERIFY(!trace.isEmpty());

    std::map<QString, int> pid_of_backend;
    std::map<std::pair<int, int>, QString> thread_names;  // (pid, tid) -> name
    std::vector<QJsonObject> complete;
    for (const QJsonValue& value : trace) {
      const QJsonObject object = value.toObject();
      const QString phase = object.value("ph").toString();
      if (phase == "M" && object.value("name").toString() == "process_name") {
        pid_of_backend[object.value("args").toObject().value("name").toString()] =
            object.value("pid").toInt();
      } else if (phase == "M" && object.value("name").toString() == "thread_name") {
        thread_names[{object.value("pid").toInt(), object.value("tid").toInt()}] =
            object.value("args").toObject().value("name").toString();
      } else if (phase == "X") {
        complete.push_back(object);
      }
    }
    // One process per backend, distinct ids.
    QCOMPARE(pid_of_backend.size(), std::size_t{2});
    QVERIFY(pid_of_backend.count("cpu") && pid_of_backend.count("npu-sim"));
    QVERIFY(pid_of_backend["cpu"] != pid_of_backend["npu-sim"]);
    // Every event becomes one complete event.
    QCOMPARE(complete.size(), events.size());

    // The npu-sim process has host, two compute tiles, a memtile and a shim track, each named.
    const int sim = pid_of_backend["npu-sim"];
    QStringList sim_tracks;
    for (const auto& [key, name] : thread_names)
      if (key.first == sim) sim_tracks << name;
    sim_tracks.sort();
    QCOMPARE(sim_tracks, (QStringList{"host", "memtile col 1", "shim col 2", "tile (col 0, row 2)",
                                      "tile (col 3, row 5)"}));

    for (std::size_t i = 0; i < events.size(); ++i) {
      const KernelEvent& event = events[i];
      const QJsonObject& object = complete[i];
      QCOMPARE(object.value("name").toString(), QString::fromStdString(event.kernel));
      QCOMPARE(object.value("pid").toInt(), pid_of_backend[QString::fromStdString(event.backend)]);
      // The event sits on the track named after its tile.
      const int tid = object.value("tid").toInt();
      QVERIFY(tid >= 0);
      const std::pair<int, int> track{object.value("pid").toInt(), tid};
      QCOMPARE(thread_names[track], QString::fromStdString(tile_track_name(event.tile)));
      // Microseconds, relative to the earliest event (1 ms here).
      QCOMPARE(object.value("ts").toDouble(), (event.start_ns - 1'000'000) / 1000.0);
      QCOMPARE(object.value("dur").toDouble(), event.duration_ns / 1000.0);
      const QJsonObject args = object.value("args").toObject();
      QCOMPARE(args.value("timing").toString(),
               event.source == TimingSource::modelled ? QString("modelled") : QString("measured"));
      QCOMPARE(args.value("bytes").toInteger(), qint64(4096));
      QCOMPARE(args.value("ops").toInteger(), qint64(1'000'000));
      QCOMPARE(args.value("layer").toInt(), event.layer);
    }
    // Hand-checked values for one event: the qkv GEMM on tile (3, 5) starts 3.2 ms in and lasts 48 us.
    QCOMPARE(complete[3].value("ts").toDouble(), 3200.0);
    QCOMPARE(complete[3].value("dur").toDouble(), 48.0);
  }

  void empty_trace_is_valid_json() {
    const QJsonDocument document = parse(chrome_trace_json({}));
    QVERIFY(document.isObject());
    QVERIFY(document.object().value("traceEvents").toArray().isEmpty());
  }

  void kernel_names_are_escaped() {
    std::vector<KernelEvent> events = {
        make_event("odd \"name\"\\\n\x01", "cpu", 0, 10, kHostTile, TimingSource::measured)};
    const QJsonDocument document = parse(chrome_trace_json(events));
    QVERIFY(document.isObject());
    bool found = false;
    for (const QJsonValue& value : document.object().value("traceEvents").toArray())
      found |= value.toObject().value("name").toString() == QString("odd \"name\"\\\n\x01");
    QVERIFY(found);
  }

  void write_is_atomic_and_replaces() {
    test::TempDir dir;
    const auto path = dir.file("trace.json");
    {
      std::ofstream old(path);
      old << "previous";
    }
    write_chrome_trace(sample_events(), path);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    QVERIFY(parse(text.str()).isObject());
    // No temporary left beside it.
    int files = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
    QCOMPARE(files, 1);
  }

  void unwritable_path_throws_a_user_error() {
    bool threw = false;
    try {
      write_chrome_trace(sample_events(), "/no/such/dir/trace.json");
    } catch (const Error& error) {
      threw = true;
      QVERIFY2(std::string(error.what()).find("/no/such/dir/trace.json") != std::string::npos, error.what());
    }
    QVERIFY(threw);
  }
};

QTEST_GUILESS_MAIN(TestTraceExport)
#include "test_trace_export.moc"
