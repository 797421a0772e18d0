// The shard log's segment format: records round-trip, and every way a segment can end
// after a crash or damage is told apart (clean, torn, corrupt, bad header).
#include "src/store/log_format.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace peregrine::store {
namespace {

using End = SegmentScan::End;

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Scanned {
  SegmentScan scan;
  std::vector<std::pair<uint8_t, std::string>> records;
};

Scanned scan(const std::string& segment, uint16_t shard = 3) {
  Scanned out;
  out.scan = scan_segment(bytes_of(segment), shard, [&](uint8_t type, std::span<const uint8_t> body) {
    out.records.emplace_back(type, std::string(body.begin(), body.end()));
    return true;
  });
  return out;
}

std::string three_records() {
  std::string s = segment_header(3);
  append_record(s, 1, "retained a/b");
  append_record(s, 2, "");
  append_record(s, 200, std::string(70000, 'x'));
  return s;
}

TEST(LogFormat, RecordsRoundTrip) {
  const std::string s = three_records();
  EXPECT_EQ(s.size(), kSegmentHeaderBytes + 3 * kRecordHeaderBytes + 12 + 0 + 70000);
  const Scanned r = scan(s);
  EXPECT_EQ(r.scan.end, End::kClean);
  EXPECT_EQ(r.scan.good_bytes, s.size());
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0], std::make_pair(uint8_t{1}, std::string("retained a/b")));
  EXPECT_EQ(r.records[1], std::make_pair(uint8_t{2}, std::string()));
  EXPECT_EQ(r.records[2].second.size(), 70000u);
  EXPECT_EQ(scan(segment_header(3)).scan.end, End::kClean);  // an empty segment
}

TEST(LogFormat, EveryCutOfTheLastRecordIsTornAtTheRecordBefore) {
  const std::string s = three_records();
  const size_t last = s.size() - kRecordHeaderBytes - 70000;
  for (size_t cut = last + 1; cut < s.size(); cut += 997) {
    const Scanned r = scan(s.substr(0, cut));
    EXPECT_EQ(r.scan.end, End::kTorn) << cut;
    EXPECT_EQ(r.scan.good_bytes, last) << cut;
    EXPECT_EQ(r.records.size(), 2u);
  }
  // Its size written, its body not: zeros where the body should be.
  std::string zeroed = s;
  std::fill(zeroed.begin() + static_cast<ptrdiff_t>(last + kRecordHeaderBytes), zeroed.end(), '\0');
  EXPECT_EQ(scan(zeroed).scan.end, End::kTorn);
  EXPECT_EQ(scan(zeroed).scan.good_bytes, last);
  // Space allocated and never written after the last good record.
  const Scanned padded = scan(s + std::string(4096, '\0'));
  EXPECT_EQ(padded.scan.end, End::kTorn);
  EXPECT_EQ(padded.scan.good_bytes, s.size());
  EXPECT_EQ(padded.records.size(), 3u);
}

TEST(LogFormat, AFlippedByteMidSegmentIsCorruptThere) {
  const std::string s = three_records();
  const size_t second = kSegmentHeaderBytes + kRecordHeaderBytes + 12;
  for (size_t at : {kSegmentHeaderBytes + 4, kSegmentHeaderBytes + 9 + 3, second + 8}) {
    std::string damaged = s;
    damaged[at] ^= 0x20;
    const Scanned r = scan(damaged);
    EXPECT_EQ(r.scan.end, End::kCorrupt) << at;
    EXPECT_EQ(r.scan.good_bytes, at < second ? kSegmentHeaderBytes : second) << at;
    EXPECT_NE(r.scan.why.find("checksum"), std::string::npos) << r.scan.why;
  }
  std::string huge = s;
  huge[kSegmentHeaderBytes + 3] = 0x7f;  // a size of ~2 GiB
  EXPECT_EQ(scan(huge).scan.end, End::kCorrupt);
  EXPECT_EQ(scan(huge).scan.good_bytes, kSegmentHeaderBytes);
}

TEST(LogFormat, HeadersNameTheirShard) {
  EXPECT_EQ(scan(three_records(), 4).scan.end, End::kBadHeader);
  EXPECT_EQ(scan("").scan.end, End::kBadHeader);
  EXPECT_EQ(scan("PGLOG").scan.end, End::kBadHeader);
  std::string other = three_records();
  other[0] = 'X';
  EXPECT_EQ(scan(other).scan.end, End::kBadHeader);
  EXPECT_EQ(segment_header(513).size(), kSegmentHeaderBytes);
  EXPECT_EQ(scan(segment_header(513), 513).scan.end, End::kClean);
}

TEST(LogFormat, AReaderCanRefuseARecord) {
  const std::string s = three_records();
  int seen = 0;
  const SegmentScan r = scan_segment(bytes_of(s), 3, [&](uint8_t, std::span<const uint8_t>) {
    return ++seen < 2;
  });
  EXPECT_EQ(r.end, End::kCorrupt);
  EXPECT_EQ(r.records, 1u);
  EXPECT_EQ(r.good_bytes, kSegmentHeaderBytes + kRecordHeaderBytes + 12);
}

}  // namespace
}  // namespace peregrine::store
