// Thread count shared by our OpenMP loops and OpenBLAS (both run on the same OpenMP team).
#pragma once

#include <cstdint>

namespace npuscribe {

// 0 means "all cores". Applies to FFTW work splitting, our loops and BLAS.
void set_thread_count(int thread_count);
int thread_count();

// Monotonic clock in nanoseconds, for profiling events and benchmarks.
std::int64_t now_ns();

}  // namespace npuscribe
