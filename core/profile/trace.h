// Chrome-trace / Perfetto JSON export of kernel events: load the file in ui.perfetto.dev or
// chrome://tracing. One process per backend; on the NPU one track per tile (compute tiles, memtiles, shims)
// plus the host, so the array's occupancy is visible at a glance.
#pragma once

#include <filesystem>
#include <span>
#include <string>

#include "backend/npu/npu_device.h"  // tile ids: compute_tile_id(), memtile_id(), shim_tile_id()
#include "profile/profile.h"

namespace npuscribe {

// "tile (col 0, row 2)", "memtile col 0", "shim col 0", "host".
std::string tile_track_name(int tile);

// The trace as a JSON document (object with "traceEvents" and "displayTimeUnit"). Times are microseconds
// relative to the earliest event; each complete event ("ph":"X") carries args bytes, ops, layer, tile and
// timing ("measured"/"modelled").
std::string chrome_trace_json(std::span<const KernelEvent> events);

// Writes chrome_trace_json(events) to path atomically (a temporary beside it, then a rename), so a reader
// never sees half a file. Throws npuscribe::Error when the file cannot be written.
void write_chrome_trace(std::span<const KernelEvent> events, const std::filesystem::path& path);

}  // namespace npuscribe
