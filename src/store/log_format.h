// The shard log's on-disk format (issue 30). A shard appends records to segment files in
// state_dir/shard-N/; a segment is a header, then records, never rewritten in place:
//
//   segment header  "PGLOG\0\0\1" (8 bytes), u16 shard, u16 reserved, u32 reserved (0),
//                   u64 the previous segment's valid length (0: none)
//   record          u32 body size, u32 CRC-32C of (type, body), u8 type, body
//
// All integers little-endian. A record is whole or absent for a reader: it takes records
// while each is complete and its checksum holds, and says how the segment ends:
//   clean    every byte belongs to a good record;
//   torn     the tail is a record cut short, a last record whose checksum fails (its
//            size reached the disk, its body did not), or zeros (space the file system
//            allocated but the crash left unwritten): the writer truncates it and
//            appends there;
//   corrupt  a complete record whose checksum fails, or a size over kMaxRecordBody: the
//            segment ends there and the rest is quarantined (the caller renames it).
// The previous segment's valid length in each header lets a writer that failed mid-batch
// start a new segment and have the failed bytes in the old one ignored, without
// rewriting it. Pure: bytes in, records out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace peregrine::store {

constexpr size_t kSegmentHeaderBytes = 24;
constexpr size_t kRecordHeaderBytes = 9;
// Larger than any message the broker accepts (max_packet_size is at most 256 MiB in MQTT,
// ours far less): a size above it is damage, not data.
constexpr uint32_t kMaxRecordBody = 64u << 20;

std::string segment_header(uint16_t shard, uint64_t previous_valid = 0);
// The header's previous-segment length (valid_segment_header() first).
uint64_t previous_valid_length(std::span<const uint8_t> header);

// Appends one framed record to `out`.
void append_record(std::string& out, uint8_t type, std::span<const uint8_t> body);
inline void append_record(std::string& out, uint8_t type, std::string_view body) {
  append_record(out, type,
                std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
}

struct SegmentScan {
  enum class End : uint8_t { kClean, kTorn, kCorrupt, kBadHeader };
  End end = End::kClean;
  size_t good_bytes = 0;  // the header and every good record: where appending resumes
  size_t records = 0;
  std::string why;        // kCorrupt, kBadHeader: what was wrong, and at which offset
};

// Visits each good record of a segment in order: `visit(type, body)` (body valid during
// the call); a visitor returning false stops the scan there (as kCorrupt, with its why
// "refused by the reader"). `shard` must match the header's.
template <typename Visit>
SegmentScan scan_segment(std::span<const uint8_t> bytes, uint16_t shard, Visit&& visit);

// The non-template core: the next record at `offset`, or how the segment ends there.
struct NextRecord {
  enum class Kind : uint8_t { kRecord, kEnd, kTorn, kCorrupt } kind = Kind::kEnd;
  uint8_t type = 0;
  std::span<const uint8_t> body;
  size_t next = 0;  // offset after it (kRecord)
  std::string why;  // kCorrupt
};
NextRecord next_record(std::span<const uint8_t> bytes, size_t offset);
bool valid_segment_header(std::span<const uint8_t> bytes, uint16_t shard, std::string& why);

template <typename Visit>
SegmentScan scan_segment(std::span<const uint8_t> bytes, uint16_t shard, Visit&& visit) {
  SegmentScan scan;
  if (!valid_segment_header(bytes, shard, scan.why)) {
    scan.end = SegmentScan::End::kBadHeader;
    return scan;
  }
  size_t offset = kSegmentHeaderBytes;
  while (true) {
    NextRecord r = next_record(bytes, offset);
    switch (r.kind) {
      case NextRecord::Kind::kEnd:
        scan.good_bytes = offset;
        return scan;
      case NextRecord::Kind::kTorn:
        scan.end = SegmentScan::End::kTorn;
        scan.good_bytes = offset;
        return scan;
      case NextRecord::Kind::kCorrupt:
        scan.end = SegmentScan::End::kCorrupt;
        scan.good_bytes = offset;
        scan.why = std::move(r.why);
        return scan;
      case NextRecord::Kind::kRecord:
        if (!visit(r.type, r.body)) {
          scan.end = SegmentScan::End::kCorrupt;
          scan.good_bytes = offset;
          scan.why = "record at " + std::to_string(offset) + " refused by the reader";
          return scan;
        }
        scan.records++;
        offset = r.next;
        break;
    }
  }
}

}  // namespace peregrine::store
