// libFuzzer target for the shard log's reader (src/store/log_format.h): whatever a damaged
// or hostile segment file holds. Checks: no crash or leak (ASan); good_bytes never passes
// the end; the good prefix scans clean to the same records; a record appended at
// good_bytes (where the writer resumes) is read back after them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/base/assert.h"
#include "src/store/log_format.h"

using namespace peregrine::store;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first bytes are taken as a segment header often enough: prefix one half the time.
  std::string segment;
  if (size > 0 && (data[0] & 1) != 0) {
    segment = segment_header(7);
    segment.append(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    segment.assign(reinterpret_cast<const char*>(data), size);
  }
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(segment.data()),
                                       segment.size());
  std::vector<std::string> records;
  const SegmentScan scan = scan_segment(bytes, 7, [&](uint8_t type, std::span<const uint8_t> body) {
    records.push_back(std::string(1, static_cast<char>(type)) +
                      std::string(body.begin(), body.end()));
    return true;
  });
  PG_ASSERT(scan.good_bytes <= segment.size());
  PG_ASSERT(scan.records == records.size());
  if (scan.end == SegmentScan::End::kBadHeader) {
    return 0;
  }
  PG_ASSERT(scan.good_bytes >= kSegmentHeaderBytes);
  // Clean exactly when every byte was taken (torn and corrupt leave bytes behind).
  PG_ASSERT((scan.end == SegmentScan::End::kClean) == (scan.good_bytes == segment.size()));
  std::string resumed = segment.substr(0, scan.good_bytes);
  append_record(resumed, 9, std::string_view("after"));
  size_t seen = 0;
  const SegmentScan again = scan_segment(
      std::span(reinterpret_cast<const uint8_t*>(resumed.data()), resumed.size()), 7,
      [&](uint8_t type, std::span<const uint8_t> body) {
        const std::string record =
            std::string(1, static_cast<char>(type)) + std::string(body.begin(), body.end());
        PG_ASSERT(seen < records.size() ? record == records[seen] : record == "\x09" "after");
        seen++;
        return true;
      });
  PG_ASSERT(again.end == SegmentScan::End::kClean && seen == records.size() + 1);
  return 0;
}
