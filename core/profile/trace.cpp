#include "profile/trace.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "util/error.h"

namespace npuscribe {
namespace {

const char* timing_name(TimingSource source) {
  return source == TimingSource::modelled ? "modelled" : "measured";
}

// Tracks sort host first, then compute tiles by column and row, then memtiles, then shims.
int track_sort_index(int tile) {
  return tile < 0 ? 0 : tile + 1;
}

[[noreturn]] void throw_write_error(const std::filesystem::path& path, const char* action, int error_number) {
  std::string what = std::string(action) + " failed: " + std::strerror(error_number);
  if (error_number == ENOSPC || error_number == EDQUOT) what += ". Free some space and run again.";
  if (error_number == ENOENT || error_number == EACCES || error_number == EPERM || error_number == EROFS) {
    what += ". Choose a folder that exists and that you can write to.";
  }
  throw Error("Cannot write the trace \"" + path.string() + "\": " + what);
}

}  // namespace

std::string tile_track_name(int tile) {
  const std::string column = std::to_string(tile_column(tile));
  switch (tile_kind(tile)) {
    case NpuTileKind::shim:
      return "shim col " + column;
    case NpuTileKind::memtile:
      return "memtile col " + column;
    case NpuTileKind::compute:
      return "tile (col " + column + ", row " + std::to_string(tile_row(tile)) + ")";
    case NpuTileKind::host:
      break;
  }
  return "host";
}

std::string chrome_trace_json(std::span<const KernelEvent> events) {
  using nlohmann::ordered_json;
  std::int64_t origin_ns = 0;
  if (!events.empty()) {
    origin_ns =
        std::min_element(events.begin(), events.end(), [](const KernelEvent& a, const KernelEvent& b) {
          return a.start_ns < b.start_ns;
        })->start_ns;
  }
  // One process per backend, numbered in order of first appearance; one thread per tile within it.
  std::vector<std::string> backends;
  std::map<std::string, std::set<int>> tiles_of;
  for (const KernelEvent& event : events) {
    if (std::find(backends.begin(), backends.end(), event.backend) == backends.end()) {
      backends.push_back(event.backend);
    }
    tiles_of[event.backend].insert(event.tile);
  }
  const auto pid_of = [&](const std::string& backend) {
    return static_cast<int>(std::find(backends.begin(), backends.end(), backend) - backends.begin()) + 1;
  };
  // Chrome's tid must be a non-negative number: the host gets 0, tile t gets t + 1.
  const auto tid_of = [](int tile) { return tile < 0 ? 0 : tile + 1; };

  ordered_json trace_events = ordered_json::array();
  for (const std::string& backend : backends) {
    const int pid = pid_of(backend);
    trace_events.push_back(
        {{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"tid", 0}, {"args", {{"name", backend}}}});
    trace_events.push_back({{"name", "process_sort_index"},
                            {"ph", "M"},
                            {"pid", pid},
                            {"tid", 0},
                            {"args", {{"sort_index", pid}}}});
    for (int tile : tiles_of[backend]) {
      trace_events.push_back({{"name", "thread_name"},
                              {"ph", "M"},
                              {"pid", pid},
                              {"tid", tid_of(tile)},
                              {"args", {{"name", tile_track_name(tile)}}}});
      trace_events.push_back({{"name", "thread_sort_index"},
                              {"ph", "M"},
                              {"pid", pid},
                              {"tid", tid_of(tile)},
                              {"args", {{"sort_index", track_sort_index(tile)}}}});
    }
  }
  for (const KernelEvent& event : events) {
    ordered_json args = {{"bytes", event.bytes_moved},
                         {"ops", event.operations},
                         {"layer", event.layer},
                         {"tile", event.tile},
                         {"timing", timing_name(event.source)}};
    trace_events.push_back(
        {{"name", event.kernel},
         {"cat", event.backend},
         {"ph", "X"},
         {"pid", pid_of(event.backend)},
         {"tid", tid_of(event.tile)},
         // Microseconds with nanosecond resolution: modelled tile kernels last a few us.
         {"ts", static_cast<double>(event.start_ns - origin_ns) / 1000.0},
         {"dur", static_cast<double>(std::max<std::int64_t>(event.duration_ns, 0)) / 1000.0},
         {"args", std::move(args)}});
  }
  ordered_json document = ordered_json::object();
  document["traceEvents"] = std::move(trace_events);
  document["displayTimeUnit"] = "ms";
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

void write_chrome_trace(std::span<const KernelEvent> events, const std::filesystem::path& path) {
  const std::string text = chrome_trace_json(events);
  static std::atomic<std::uint64_t> counter{0};
  const std::filesystem::path temporary =
      path.parent_path() / ('.' + path.filename().string().substr(0, 200) + ".tmp-" +
                            std::to_string(::getpid()) + '-' + std::to_string(counter.fetch_add(1)));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_write_error(path, "creating a temporary file", errno);
  const auto fail = [&](const char* action, int error_number) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw_write_error(path, action, error_number);
  };
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t written = ::write(fd, rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) fail("writing", written < 0 ? errno : ENOSPC);
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::fsync(fd) != 0) fail("syncing", errno);
  if (::close(fd) != 0) {
    const int error_number = errno;
    ::unlink(temporary.c_str());
    throw_write_error(path, "closing", error_number);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error_number = errno;
    ::unlink(temporary.c_str());
    throw_write_error(path, "renaming the temporary file", error_number);
  }
}

}  // namespace npuscribe
