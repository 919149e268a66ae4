// Fork/join for the decoder's many small parallel steps. Unlike an OpenMP team, the calling thread claims
// chunks itself and never waits for a worker that has not started: if another process holds the other
// cores, the caller simply does all the work, instead of stalling a scheduler time slice per step.
#pragma once

#include <functional>

namespace npuscribe {

// Runs body(chunk) for chunk in [0, chunk_count) on up to thread_count() threads and returns when all
// are done. Called from inside a body, it runs inline.
void parallel_chunks(int chunk_count, const std::function<void(int chunk)>& body);

}  // namespace npuscribe
