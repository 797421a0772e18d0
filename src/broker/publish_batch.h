// Plain QoS 0 messages bound for one other shard, packed back to back into one block that
// crosses in one envelope. A message travelling alone costs an allocation, a shared
// reference count, an envelope and a free back home; in a batch it costs its copy. The
// receiving shard reads each record straight into its subscribers' buffers, or makes a
// Message of it when it cannot.
// Invariants: records hold what a plain QoS 0 PUBLISH carries (topic, payload and the
// publisher's connection id: no retain, no properties); they are read in the order they
// were appended; a batch never holds more than kBytes of records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace peregrine::broker {

class PublishBatch {
 public:
  // A block's size: large enough that a busy turn fills few, small enough to come back.
  static constexpr size_t kBytes = 64 * 1024;
  // Topic and payload bytes a record may carry; larger messages travel alone.
  static constexpr size_t kMaxRecordBody = 4096;

  struct Record {
    uint64_t origin_connection;
    std::string_view topic;
    std::span<const uint8_t> payload;
  };

  static PublishBatch* create();
  static void destroy(PublishBatch* batch);

  // Whether a record of these sizes fits what is left.
  bool fits(size_t topic_size, size_t payload_size) const {
    return _used + record_size(topic_size, payload_size) <= kBytes;
  }
  // Appends one record; fits() must hold.
  void append(uint64_t origin_connection, std::string_view topic,
              std::span<const uint8_t> payload);
  uint32_t count() const { return _count; }

  // Reads the records in order: `read(record)` for each.
  template <typename F>
  void for_each(F&& read) const {
    size_t at = 0;
    for (uint32_t i = 0; i < _count; ++i) {
      Record record;
      at = decode(at, record);
      read(record);
    }
  }

 private:
  struct Header {
    uint64_t origin_connection;
    uint32_t payload_size;
    uint16_t topic_size;
  };
  static size_t record_size(size_t topic_size, size_t payload_size) {
    return (sizeof(Header) + topic_size + payload_size + 7) & ~size_t{7};
  }
  size_t decode(size_t at, Record& out) const;

  PublishBatch() {}  // user-provided: `new PublishBatch()` must not zero _bytes
  size_t _used = 0;
  uint32_t _count = 0;
  alignas(8) uint8_t _bytes[kBytes];
};

}  // namespace peregrine::broker
