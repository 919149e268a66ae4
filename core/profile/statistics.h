// Summaries of kernel events for `npuscribe profile` and the GUI's profiling panels: per kernel and backend
// (count, mean, percentiles, throughput), and per NPU tile (the fraction of the run it was busy).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "profile/profile.h"

namespace npuscribe {

struct KernelStatistics {
  std::string kernel;
  std::string backend;
  TimingSource source = TimingSource::measured;  // modelled if any of its events is modelled
  int count = 0;
  double total_ms = 0.0;
  double mean_ms = 0.0;
  double p50_ms = 0.0;  // percentiles by linear interpolation between the sorted durations
  double p95_ms = 0.0;
  std::uint64_t operations = 0;  // summed over the events
  std::uint64_t bytes_moved = 0;
  double gops_per_s = 0.0;  // operations / total time / 1e9; 0 when no operations were counted
};

// One row per (kernel, backend, source), ordered by total time, largest first.
std::vector<KernelStatistics> kernel_statistics(std::span<const KernelEvent> events);

struct TileUtilisation {
  std::string backend;
  int tile = -1;             // ids as in backend/npu/npu_device.h (compute, memtile 100+c, shim 200+c)
  std::string name;          // tile_track_name(tile)
  double busy_ms = 0.0;      // union of its events' intervals (overlaps counted once)
  double span_ms = 0.0;      // the union of the backend's "npu.launch" intervals over its tile events' range;
                             // without launch markers, first start to last end of its tile events
  double utilisation = 0.0;  // busy_ms / span_ms, in [0, 1]
};

// For every tile (id >= 0) that has events, per backend: busy time while the device ran launches.
// Ordered by backend, then tile id.
std::vector<TileUtilisation> tile_utilisation(std::span<const KernelEvent> events);

// Value at fraction q (0..1) of sorted values, linear interpolation between neighbours (numpy's default).
double percentile(std::span<const double> sorted_values, double q);

}  // namespace npuscribe
