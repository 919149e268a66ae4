#include "util/thread_pool.h"

#include <immintrin.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "util/parallel.h"

namespace npuscribe {
namespace {

struct Job {
  const std::function<void(int)>* body = nullptr;
  int chunk_count = 0;
  std::atomic<int> next_chunk{0};
  std::atomic<int> completed{0};
};

thread_local bool inside_body = false;

// Claims and runs chunks until none are left.
void work_on(Job& job) {
  inside_body = true;
  for (int chunk = job.next_chunk.fetch_add(1); chunk < job.chunk_count;
       chunk = job.next_chunk.fetch_add(1)) {
    (*job.body)(chunk);
    job.completed.fetch_add(1, std::memory_order_release);
  }
  inside_body = false;
}

class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  void run(int chunk_count, const std::function<void(int)>& body) {
    const int workers_wanted = thread_count() - 1;
    if (chunk_count <= 1 || workers_wanted <= 0 || inside_body) {
      for (int chunk = 0; chunk < chunk_count; ++chunk) body(chunk);
      return;
    }
    std::unique_lock caller_lock(caller_mutex_);  // one job at a time; other callers queue here
    ensure_workers(workers_wanted);
    auto job = std::make_shared<Job>();
    job->body = &body;
    job->chunk_count = chunk_count;
    {
      std::lock_guard lock(mutex_);
      current_ = job;
      ++generation_;
    }
    wake_.notify_all();
    work_on(*job);
    // Only chunks already claimed by running workers remain; they finish promptly.
    while (job->completed.load(std::memory_order_acquire) < chunk_count) _mm_pause();
    std::lock_guard lock(mutex_);
    current_.reset();
  }

  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

 private:
  void ensure_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) workers_.emplace_back([this] { worker_loop(); });
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = current_;  // may already be finished and reset: then there is nothing to do
      }
      if (job) work_on(*job);
    }
  }

  std::mutex caller_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::shared_ptr<Job> current_;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

void parallel_chunks(int chunk_count, const std::function<void(int)>& body) {
  Pool::instance().run(chunk_count, body);
}

}  // namespace npuscribe
