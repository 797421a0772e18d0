#include "bench/load/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace peregrine::bench {

size_t LatencyHistogram::index_of(uint64_t value) {
  if (value < 2 * kSubBuckets) {
    return static_cast<size_t>(value);
  }
  const int msb = 63 - std::countl_zero(value);
  const int shift = msb - kSubBits;  // >= 1 here
  const uint64_t mantissa = value >> shift;  // in [kSubBuckets, 2 * kSubBuckets)
  return static_cast<size_t>((shift + 1) * kSubBuckets + (mantissa - kSubBuckets));
}

uint64_t LatencyHistogram::lowest_of(size_t index) {
  if (index < 2 * kSubBuckets) {
    return index;
  }
  const uint64_t shift = index / kSubBuckets - 1;
  const uint64_t mantissa = index % kSubBuckets + kSubBuckets;
  return mantissa << shift;
}

uint64_t LatencyHistogram::width_of(size_t index) {
  if (index < 2 * kSubBuckets) {
    return 1;
  }
  return uint64_t{1} << (index / kSubBuckets - 1);
}

void LatencyHistogram::record(uint64_t value) {
  _buckets[index_of(value)]++;
  _count++;
  _max = std::max(_max, value);
  _min = std::min(_min, value);
  _sum += static_cast<long double>(value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; i++) {
    _buckets[i] += other._buckets[i];
  }
  _count += other._count;
  _max = std::max(_max, other._max);
  _min = std::min(_min, other._min);
  _sum += other._sum;
}

void LatencyHistogram::reset() { *this = LatencyHistogram{}; }

double LatencyHistogram::mean() const {
  return _count == 0 ? 0.0 : static_cast<double>(_sum / static_cast<long double>(_count));
}

uint64_t LatencyHistogram::percentile(double q) const {
  if (_count == 0) {
    return 0;
  }
  // The rank of the q-th value, 1-based, so q = 1 lands on the last recorded value.
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(_count)));
  const uint64_t target = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; i++) {
    seen += _buckets[i];
    if (seen >= target) {
      return std::min(lowest_of(i) + width_of(i) / 2, _max);
    }
  }
  return _max;
}

}  // namespace peregrine::bench
