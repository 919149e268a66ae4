#include "profile/statistics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "profile/trace.h"

namespace npuscribe {

double percentile(std::span<const double> sorted_values, double q) {
  if (sorted_values.empty()) return 0.0;
  const double position = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted_values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted_values.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * fraction;
}

std::vector<KernelStatistics> kernel_statistics(std::span<const KernelEvent> events) {
  struct Group {
    std::vector<double> durations_ms;
    std::uint64_t operations = 0;
    std::uint64_t bytes_moved = 0;
  };
  std::map<std::tuple<std::string, std::string, TimingSource>, Group> groups;
  for (const KernelEvent& event : events) {
    Group& group = groups[{event.kernel, event.backend, event.source}];
    group.durations_ms.push_back(static_cast<double>(std::max<std::int64_t>(event.duration_ns, 0)) / 1e6);
    group.operations += event.operations;
    group.bytes_moved += event.bytes_moved;
  }
  std::vector<KernelStatistics> rows;
  rows.reserve(groups.size());
  for (auto& [key, group] : groups) {
    KernelStatistics row;
    std::tie(row.kernel, row.backend, row.source) = key;
    std::sort(group.durations_ms.begin(), group.durations_ms.end());
    row.count = static_cast<int>(group.durations_ms.size());
    for (double duration_ms : group.durations_ms) row.total_ms += duration_ms;
    row.mean_ms = row.total_ms / row.count;
    row.p50_ms = percentile(group.durations_ms, 0.50);
    row.p95_ms = percentile(group.durations_ms, 0.95);
    row.operations = group.operations;
    row.bytes_moved = group.bytes_moved;
    if (row.total_ms > 0.0)
      row.gops_per_s = static_cast<double>(row.operations) / (row.total_ms * 1e-3) / 1e9;
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const KernelStatistics& a, const KernelStatistics& b) {
    return a.total_ms > b.total_ms;
  });
  return rows;
}

std::vector<TileUtilisation> tile_utilisation(std::span<const KernelEvent> events) {
  using Interval = std::pair<std::int64_t, std::int64_t>;  // [start, end) in ns
  std::map<std::pair<std::string, int>, std::vector<Interval>> intervals;
  std::map<std::string, Interval> span_of;                // per backend, over its tile events
  std::map<std::string, std::vector<Interval>> launches;  // per backend: "npu.launch" intervals
  for (const KernelEvent& event : events) {
    if (event.kernel == "npu.launch")
      launches[event.backend].push_back(
          {event.start_ns, event.start_ns + std::max<std::int64_t>(event.duration_ns, 0)});
    if (event.tile < 0) continue;
    const Interval interval{event.start_ns, event.start_ns + std::max<std::int64_t>(event.duration_ns, 0)};
    intervals[{event.backend, event.tile}].push_back(interval);
    auto [it, inserted] = span_of.try_emplace(event.backend, interval);
    if (!inserted) {
      it->second.first = std::min(it->second.first, interval.first);
      it->second.second = std::max(it->second.second, interval.second);
    }
  }
  // Length of the union of intervals: a tile running two kernels at once (overlapping DMA and compute
  // events) is busy once, not twice.
  auto union_ns = [](std::vector<Interval>& list) {
    std::sort(list.begin(), list.end());
    std::int64_t total_ns = 0;
    std::int64_t run_start = list.front().first, run_end = list.front().second;
    for (const Interval& interval : list) {
      if (interval.first > run_end) {
        total_ns += run_end - run_start;
        run_start = interval.first;
      }
      run_end = std::max(run_end, interval.second);
    }
    return total_ns + (run_end - run_start);
  };
  // With launch markers the span is the time the device was running launches (within the tile events'
  // range): the gaps between launches are host time, which on the emulator is not the device's at all.
  std::map<std::string, std::int64_t> launch_span_ns;
  for (auto& [backend, list] : launches) {
    const auto range = span_of.find(backend);
    if (range == span_of.end()) continue;
    std::vector<Interval> inside;
    for (const Interval& launch : list)
      if (launch.second > range->second.first && launch.first < range->second.second)
        inside.push_back(launch);
    if (!inside.empty()) launch_span_ns[backend] = union_ns(inside);
  }
  std::vector<TileUtilisation> rows;
  for (auto& [key, list] : intervals) {
    const std::int64_t busy_ns = union_ns(list);
    const Interval span = span_of.at(key.first);
    const auto launch_span = launch_span_ns.find(key.first);
    TileUtilisation row;
    row.backend = key.first;
    row.tile = key.second;
    row.name = tile_track_name(row.tile);
    row.busy_ms = static_cast<double>(busy_ns) / 1e6;
    row.span_ms = static_cast<double>(launch_span != launch_span_ns.end() ? launch_span->second
                                                                          : span.second - span.first) /
                  1e6;
    row.utilisation = row.span_ms > 0.0 ? std::min(1.0, row.busy_ms / row.span_ms) : 0.0;
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace npuscribe
