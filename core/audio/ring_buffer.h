// Single-producer single-consumer ring of floats without locks: the PortAudio callback writes, one
// converter thread reads. Neither side ever blocks or allocates.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <span>
#include <vector>

namespace npuscribe {

class SpscFloatRing {
 public:
  explicit SpscFloatRing(std::size_t capacity) : data_(std::bit_ceil(std::max<std::size_t>(capacity, 2))) {}

  // Producer: writes as much as fits and returns the count written.
  std::size_t write(std::span<const float> samples) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    const std::size_t n = std::min(samples.size(), data_.size() - (head - tail));
    for (std::size_t i = 0; i < n; ++i) data_[(head + i) & (data_.size() - 1)] = samples[i];
    head_.store(head + n, std::memory_order_release);
    return n;
  }

  // Consumer: reads up to out.size() samples and returns the count read.
  std::size_t read(std::span<float> out) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    const std::size_t head = head_.load(std::memory_order_acquire);
    const std::size_t n = std::min(out.size(), head - tail);
    for (std::size_t i = 0; i < n; ++i) out[i] = data_[(tail + i) & (data_.size() - 1)];
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

  std::size_t available() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }
  std::size_t capacity() const { return data_.size(); }

 private:
  std::vector<float> data_;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

}  // namespace npuscribe
