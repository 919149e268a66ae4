#include "util/parallel.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

extern "C" void openblas_set_num_threads(int num_threads);

namespace npuscribe {
namespace {
std::atomic<int> configured_threads{0};
}

void set_thread_count(int requested) {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = requested > 0 ? requested : hardware;
  configured_threads = threads;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

int thread_count() {
  if (configured_threads == 0) set_thread_count(0);
  return configured_threads;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace npuscribe
