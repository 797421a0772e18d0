#include "src/store/log_format.h"

#include <algorithm>
#include <cstring>

#include "src/base/crc32c.h"

namespace peregrine::store {

namespace {

constexpr char kMagic[8] = {'P', 'G', 'L', 'O', 'G', '\0', '\0', '\1'};

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; i++) {
    out.push_back(static_cast<char>(v >> (8 * i)));
  }
}

uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

uint32_t record_crc(uint8_t type, std::span<const uint8_t> body) {
  return base::crc32c(body.data(), body.size(), base::crc32c(&type, 1));
}

}  // namespace

std::string segment_header(uint16_t shard, uint64_t previous_valid) {
  std::string out(kMagic, sizeof kMagic);
  out.push_back(static_cast<char>(shard & 0xFF));
  out.push_back(static_cast<char>(shard >> 8));
  out.append(6, '\0');
  put_u32(out, static_cast<uint32_t>(previous_valid));
  put_u32(out, static_cast<uint32_t>(previous_valid >> 32));
  return out;
}

uint64_t previous_valid_length(std::span<const uint8_t> header) {
  return static_cast<uint64_t>(get_u32(header.data() + 16)) |
         static_cast<uint64_t>(get_u32(header.data() + 20)) << 32;
}

bool valid_segment_header(std::span<const uint8_t> bytes, uint16_t shard, std::string& why) {
  if (bytes.size() < kSegmentHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    why = "not a Peregrine log segment (no header)";
    return false;
  }
  const uint16_t own = static_cast<uint16_t>(bytes[8] | bytes[9] << 8);
  if (own != shard) {
    why = "a segment of shard " + std::to_string(own) + ", not " + std::to_string(shard);
    return false;
  }
  return true;
}

void append_record(std::string& out, uint8_t type, std::span<const uint8_t> body) {
  put_u32(out, static_cast<uint32_t>(body.size()));
  put_u32(out, record_crc(type, body));
  out.push_back(static_cast<char>(type));
  out.append(reinterpret_cast<const char*>(body.data()), body.size());
}

NextRecord next_record(std::span<const uint8_t> bytes, size_t offset) {
  NextRecord r;
  if (offset >= bytes.size()) {
    r.kind = NextRecord::Kind::kEnd;
    return r;
  }
  const std::span<const uint8_t> rest = bytes.subspan(offset);
  // Zeros to the end: allocated, never written (a crash between extending and writing).
  if (std::all_of(rest.begin(), rest.end(), [](uint8_t b) { return b == 0; })) {
    r.kind = NextRecord::Kind::kTorn;
    return r;
  }
  if (rest.size() < kRecordHeaderBytes) {
    r.kind = NextRecord::Kind::kTorn;
    return r;
  }
  const uint32_t size = get_u32(rest.data());
  const uint32_t crc = get_u32(rest.data() + 4);
  if (size > kMaxRecordBody) {
    r.kind = NextRecord::Kind::kCorrupt;
    r.why = "record at " + std::to_string(offset) + " claims " + std::to_string(size) + " bytes";
    return r;
  }
  if (rest.size() - kRecordHeaderBytes < size) {
    r.kind = NextRecord::Kind::kTorn;
    return r;
  }
  r.type = rest[8];
  r.body = rest.subspan(kRecordHeaderBytes, size);
  if (record_crc(r.type, r.body) != crc) {
    // The last record of the file, whole in length but not in content: a write the crash
    // cut (the size reached the disk, the body did not). Nothing follows it to lose.
    if (kRecordHeaderBytes + size == rest.size()) {
      r.kind = NextRecord::Kind::kTorn;
      return r;
    }
    r.kind = NextRecord::Kind::kCorrupt;
    r.why = "record at " + std::to_string(offset) + ": checksum mismatch";
    return r;
  }
  r.kind = NextRecord::Kind::kRecord;
  r.next = offset + kRecordHeaderBytes + size;
  return r;
}

}  // namespace peregrine::store
