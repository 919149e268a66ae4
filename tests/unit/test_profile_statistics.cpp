// Per-kernel statistics and per-tile utilisation on hand-made events whose answers are worked out here.
#include <QtTest>

#include <cmath>

#include "backend/npu/npu_device.h"
#include "profile/statistics.h"

using namespace npuscribe;

namespace {

KernelEvent make_event(std::string kernel, std::string backend, std::int64_t start_ns,
                       std::int64_t duration_ns, int tile = -1, TimingSource source = TimingSource::measured,
                       std::uint64_t operations = 0) {
  KernelEvent event;
  event.kernel = std::move(kernel);
  event.backend = std::move(backend);
  event.start_ns = start_ns;
  event.duration_ns = duration_ns;
  event.tile = tile;
  event.source = source;
  event.operations = operations;
  return event;
}

const KernelStatistics* find(const std::vector<KernelStatistics>& rows, const std::string& kernel,
                             const std::string& backend) {
  for (const KernelStatistics& row : rows)
    if (row.kernel == kernel && row.backend == backend) return &row;
  return nullptr;
}

bool near(double a, double b, double tolerance = 1e-9) {
  return std::abs(a - b) <= tolerance * std::max(1.0, std::abs(b));
}

}  // namespace

class TestProfileStatistics : public QObject {
  Q_OBJECT

 private slots:
  void percentile_interpolates() {
    const std::vector<double> values = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    QVERIFY(near(percentile(values, 0.5), 5.5));
    // numpy.percentile(range(1, 11), 95) = 9.55
    QVERIFY(near(percentile(values, 0.95), 9.55));
    QVERIFY(near(percentile(values, 0.0), 1.0));
    QVERIFY(near(percentile(values, 1.0), 10.0));
    const std::vector<double> one = {7};
    QVERIFY(near(percentile(one, 0.95), 7.0));
    QCOMPARE(percentile(std::vector<double>{}, 0.5), 0.0);
  }

  void kernel_rows() {
    std::vector<KernelEvent> events;
    // 20 GEMMs of 1..20 ms, 2e9 operations each (shuffled order).
    for (int i : {7, 3, 20, 1, 15, 2, 19, 4, 18, 5, 17, 6, 16, 8, 14, 9, 13, 10, 12, 11})
      events.push_back(make_event("gemm", "cpu", i * 100'000'000LL, i * 1'000'000LL, -1,
                                  TimingSource::measured, 2'000'000'000ULL));
    // The same kernel name on another backend, modelled: its own row.
    events.push_back(make_event("gemm", "npu-sim", 0, 500'000, 3, TimingSource::modelled, 1'000'000'000ULL));
    events.push_back(make_event("softmax", "cpu", 0, 4'000'000));

    const std::vector<KernelStatistics> rows = kernel_statistics(events);
    QCOMPARE(rows.size(), std::size_t{3});
    // Ordered by total time: gemm/cpu (210 ms), softmax (4 ms), gemm/npu-sim (0.5 ms).
    QCOMPARE(rows[0].kernel, std::string("gemm"));
    QCOMPARE(rows[0].backend, std::string("cpu"));
    QCOMPARE(rows[1].kernel, std::string("softmax"));
    QCOMPARE(rows[2].backend, std::string("npu-sim"));

    const KernelStatistics* cpu = find(rows, "gemm", "cpu");
    QVERIFY(cpu);
    QCOMPARE(cpu->count, 20);
    QVERIFY(near(cpu->total_ms, 210.0));
    QVERIFY(near(cpu->mean_ms, 10.5));
    QVERIFY(near(cpu->p50_ms, 10.5));
    // Sorted 1..20: position 0.95 * 19 = 18.05 -> 19 + 0.05 * (20 - 19) = 19.05
    QVERIFY2(near(cpu->p95_ms, 19.05), qPrintable(QString::number(cpu->p95_ms)));
    QCOMPARE(cpu->source, TimingSource::measured);
    // 40e9 operations in 0.210 s = 190.476 GOP/s
    QVERIFY2(near(cpu->gops_per_s, 40.0 / 0.210, 1e-6), qPrintable(QString::number(cpu->gops_per_s)));

    const KernelStatistics* sim = find(rows, "gemm", "npu-sim");
    QVERIFY(sim);
    QCOMPARE(sim->count, 1);
    QCOMPARE(sim->source, TimingSource::modelled);
    QVERIFY(near(sim->gops_per_s, 2000.0));  // 1e9 operations in 0.5 ms

    const KernelStatistics* softmax = find(rows, "softmax", "cpu");
    QVERIFY(softmax);
    QCOMPARE(softmax->gops_per_s, 0.0);  // no operations counted: no throughput claimed
  }

  void empty_input() {
    QVERIFY(kernel_statistics({}).empty());
    QVERIFY(tile_utilisation({}).empty());
  }

  void tile_utilisation_merges_overlaps() {
    const int a = compute_tile_id(0, 2), b = compute_tile_id(1, 4), m = memtile_id(0);
    const std::vector<KernelEvent> events = {
        // Tile a: [0, 40) and [20, 60) overlap -> busy 60; plus [80, 90) -> 70 of the span 0..100.
        make_event("k", "npu-sim", 0, 40, a, TimingSource::modelled),
        make_event("k", "npu-sim", 20, 40, a, TimingSource::modelled),
        make_event("k", "npu-sim", 80, 10, a, TimingSource::modelled),
        // Tile b: [50, 100) -> 50 %.
        make_event("k", "npu-sim", 50, 50, b, TimingSource::modelled),
        // Memtile: [10, 20) and [20, 30) touch -> 20 %.
        make_event("dma", "npu-sim", 10, 10, m, TimingSource::modelled),
        make_event("dma", "npu-sim", 20, 10, m, TimingSource::modelled),
        // Host events and other backends do not change npu-sim's span.
        make_event("launch", "npu-sim", -1000, 5000, kHostTile, TimingSource::modelled),
        make_event("k", "cpu", 0, 1000),
    };
    const std::vector<TileUtilisation> rows = tile_utilisation(events);
    QCOMPARE(rows.size(), std::size_t{3});
    // Ordered by tile id: a (0), b (6), memtile (100).
    QCOMPARE(rows[0].tile, a);
    QCOMPARE(rows[1].tile, b);
    QCOMPARE(rows[2].tile, m);
    QCOMPARE(rows[2].name, std::string("memtile col 0"));
    for (const TileUtilisation& row : rows) {
      QCOMPARE(row.backend, std::string("npu-sim"));
      QVERIFY(near(row.span_ms, 100e-6));
    }
    QVERIFY(near(rows[0].busy_ms, 70e-6));
    QVERIFY(near(rows[0].utilisation, 0.7));
    QVERIFY(near(rows[1].utilisation, 0.5));
    QVERIFY(near(rows[2].utilisation, 0.2));
  }

  void tile_utilisation_spans_launches_only() {
    // Two launches [0, 100) and [1000, 1100) with host time between them: tile a is busy 50 + 50 of the
    // 200 the device ran, not of the 1100 from first to last event.
    const int a = compute_tile_id(2, 3);
    const std::vector<KernelEvent> events = {
        make_event("npu.launch", "npu-sim", 0, 100, kHostTile, TimingSource::modelled),
        make_event("k", "npu-sim", 10, 50, a, TimingSource::modelled),
        make_event("npu.launch", "npu-sim", 1000, 100, kHostTile, TimingSource::modelled),
        make_event("k", "npu-sim", 1040, 50, a, TimingSource::modelled),
        // A launch outside the tile events' range (their events were trimmed) does not count.
        make_event("npu.launch", "npu-sim", 5000, 100, kHostTile, TimingSource::modelled),
    };
    const std::vector<TileUtilisation> rows = tile_utilisation(events);
    QCOMPARE(rows.size(), std::size_t{1});
    QVERIFY(near(rows[0].span_ms, 200e-6));
    QVERIFY(near(rows[0].busy_ms, 100e-6));
    QVERIFY(near(rows[0].utilisation, 0.5));
  }
};

QTEST_GUILESS_MAIN(TestProfileStatistics)
#include "test_profile_statistics.moc"
