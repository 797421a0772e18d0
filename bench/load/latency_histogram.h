// Log-linear latency histogram (HdrHistogram's layout): 32 linear sub-buckets per power of
// two, so every recorded value is kept within ~3% of its true value. One per worker
// thread, never shared while recording; merged by the main thread after the run.
// Fixed size (kBuckets counters), no allocation after construction.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace peregrine::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBits;
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSubBuckets;

  void record(uint64_t value);
  void merge(const LatencyHistogram& other);
  void reset();

  uint64_t count() const { return _count; }
  uint64_t max() const { return _max; }
  uint64_t min() const { return _count == 0 ? 0 : _min; }
  double mean() const;
  // Value at quantile q in [0, 1]: the midpoint of the bucket holding it, capped at max().
  uint64_t percentile(double q) const;

  // Raw access for moving a histogram between processes through a pipe.
  const std::array<uint64_t, kBuckets>& buckets() const { return _buckets; }

 private:
  static size_t index_of(uint64_t value);
  static uint64_t lowest_of(size_t index);
  static uint64_t width_of(size_t index);

  std::array<uint64_t, kBuckets> _buckets{};
  uint64_t _count = 0;
  uint64_t _max = 0;
  uint64_t _min = UINT64_MAX;
  long double _sum = 0;
};

}  // namespace peregrine::bench
