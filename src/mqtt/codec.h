// MQTT codec: framing, decoding and encoding of every packet of 3.1, 3.1.1 and 5.0.
// Pure functions over byte spans; no I/O, no allocation beyond the vectors inside the
// decoded packet values (bounded by the packet's own size). Decode results are the
// reason code the spec prescribes for the fault (kSuccess when the packet is valid):
// kMalformedPacket, kProtocolError, kTopicNameInvalid, kTopicAliasInvalid,
// kUnsupportedProtocolVersion, kPacketTooLarge, kPayloadFormatInvalid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/mqtt/bytes.h"
#include "src/mqtt/packets.h"
#include "src/mqtt/reason_code.h"

namespace peregrine::mqtt {

// The spec's hard ceiling: 1 + 4 + 268,435,455 bytes.
inline constexpr uint32_t kMaxRemainingLength = 268'435'455;

struct FixedHeader {
  PacketType type = PacketType::kConnect;  // only valid when status is kComplete
  uint8_t flags = 0;                       // low nibble of byte 1
  uint32_t remaining_length = 0;
  uint8_t header_length = 0;  // 2..5
  size_t total_length() const { return header_length + size_t{remaining_length}; }
};

enum class FrameStatus : uint8_t {
  kComplete,   // header parsed and the whole packet (header + body) is in `data`
  kNeedMore,   // not enough bytes yet; nothing to do but read more
  kMalformed,  // bad remaining length encoding (> 4 bytes, non-minimal) or type 0
  kTooLarge,   // header + remaining length exceeds max_packet_size
};

struct Frame {
  FrameStatus status = FrameStatus::kNeedMore;
  FixedHeader header;  // header fields are valid for kComplete, and for kNeedMore once
                       // the whole fixed header has arrived (header_length != 0)
};

// Looks at the start of `data` for one packet. Checks the size limit as soon as the
// remaining length is known, so a too-large packet is refused before its body arrives.
// Reserved flag bits are checked by decode(), not here.
// Inline: called once per packet, and an out-of-line call returns the Frame assembled on
// the stack from byte stores and reloaded as two words (a store-forwarding stall).
inline Frame read_frame(Bytes data, uint32_t max_packet_size) {
  Frame frame;
  if (data.empty()) {
    return frame;
  }
  const uint8_t first = data[0];
  if ((first >> 4) == 0) {
    frame.status = FrameStatus::kMalformed;  // packet type 0 is reserved
    return frame;
  }
  uint32_t length = 0;
  size_t i = 1;
  for (;; ++i) {
    if (i == data.size()) {
      return frame;  // the remaining length has not fully arrived
    }
    const uint8_t byte = data[i];
    length |= uint32_t{byte & 0x7Fu} << (7 * (i - 1));
    if ((byte & 0x80) == 0) {
      // A zero final group after the first byte is a non-minimal encoding [MQTT-1.5.5-1].
      if (byte == 0 && i > 1) {
        frame.status = FrameStatus::kMalformed;
        return frame;
      }
      break;
    }
    if (i == 4) {
      frame.status = FrameStatus::kMalformed;  // a fifth length byte
      return frame;
    }
  }
  frame.header.type = static_cast<PacketType>(first >> 4);
  frame.header.flags = first & 0x0F;
  frame.header.remaining_length = length;
  frame.header.header_length = static_cast<uint8_t>(i + 1);
  const size_t total = frame.header.total_length();
  if (total > max_packet_size) {
    frame.status = FrameStatus::kTooLarge;
  } else if (data.size() >= total) {
    frame.status = FrameStatus::kComplete;
  }
  return frame;
}

// Decodes a CONNECT body (the bytes after the fixed header). Determines the version.
// `flags` are the fixed header's low nibble (must be 0).
// Returns kUnsupportedProtocolVersion for an unknown protocol name/level; the decoded
// `out.version` is then the level byte as far as it could be read (callers answering a
// v3 client use CONNACK return code 1).
ReasonCode decode_connect(uint8_t flags, Bytes body, Connect& out);

// Decodes any packet of an established connection of version `version`. `header` must come
// from read_frame(); `body` is exactly header.remaining_length bytes.
// CONNECT is decoded too (via decode_connect, a second CONNECT is the caller's business).
// On failure, `fault` (if given) may be set to a static description of the rule broken
// (SUBSCRIBE and UNSUBSCRIBE say which; other packets leave it unchanged).
ReasonCode decode(ProtocolVersion version, const FixedHeader& header, Bytes body,
                  Packet& out, const char** fault = nullptr);

// Fast path for the broker: decode a PUBLISH body with the fixed header's flags.
ReasonCode decode_publish(ProtocolVersion version, uint8_t flags, Bytes body, Publish& out);

// True for PUBACK, PUBREC, PUBREL and PUBCOMP.
inline bool is_ack(PacketType type) {
  return type == PacketType::kPuback || type == PacketType::kPubrec ||
         type == PacketType::kPubrel || type == PacketType::kPubcomp;
}

// Fast path for acknowledgements (is_ack(header.type)): what decode() does for them,
// without a Packet.
ReasonCode decode_ack(ProtocolVersion version, const FixedHeader& header, Bytes body,
                      Ack& out);

// Appends the complete encoding of `packet` for `version` to `out`. Properties are written
// only for v5. The packet must be valid for the version (asserted in debug builds).
void encode(ProtocolVersion version, const Packet& packet, std::vector<uint8_t>& out);

// Appends a PUBLISH fixed header, topic, packet id and properties for a payload of
// `payload_size` bytes, without the payload, so one payload buffer can follow many heads.
// publish.payload is ignored.
void encode_publish_head(ProtocolVersion version, const Publish& publish,
                         size_t payload_size, std::vector<uint8_t>& out);

// The same for a QoS 0 delivery (DUP and retain clear, no packet id) of a message with
// this topic and these properties, read in place: the broker's shared fan-out head,
// made without a PUBLISH.
void encode_qos0_publish_head(ProtocolVersion version, std::string_view topic,
                              const Properties& properties, size_t payload_size,
                              std::vector<uint8_t>& out);
// encode_publish_head() for a PUBLISH without properties (most messages), in one pass.
void encode_plain_publish_head(ProtocolVersion version, std::string_view topic, uint8_t qos,
                               bool retain, bool dup, uint16_t packet_id, size_t payload_size,
                               std::vector<uint8_t>& out);
// The same into `out`, which has room for plain_publish_head_size() bytes; returns the
// bytes written. For a head rewritten per message into a buffer that keeps its size.
size_t encode_plain_publish_head(ProtocolVersion version, std::string_view topic, uint8_t qos,
                                 bool retain, bool dup, uint16_t packet_id,
                                 size_t payload_size, uint8_t* out);
size_t plain_publish_head_size(ProtocolVersion version, size_t topic_size, uint8_t qos,
                               size_t payload_size);

// A PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success and no properties: the same four
// bytes in every version (v5 omits the reason code then, spec §3.4.2.1).
inline constexpr size_t kSuccessAckSize = 4;
void encode_success_ack(PacketType type, uint16_t packet_id, uint8_t* out);

// Size of the complete PUBLISH encoding (head + payload) for `version`.
size_t publish_size(ProtocolVersion version, const Publish& publish, size_t payload_size);

// Well-formed UTF-8 per [MQTT-1.5.4-1..2]: no ill-formed sequences, no surrogates,
// no U+0000.
bool valid_utf8(std::string_view s);

// Well-formed UTF-8 that may contain U+0000 (RFC 3629): what a payload with Payload
// Format Indicator 1 must be, and what other layers (WebSocket close reasons, SSE) check.
bool well_formed_utf8(std::string_view s);

// A topic name for PUBLISH: non-empty, valid UTF-8, no '+' or '#' [MQTT-3.3.2-2].
bool valid_topic_name(std::string_view topic);

// A topic filter for SUBSCRIBE/UNSUBSCRIBE: non-empty, '#' only last and alone in its
// level, '+' alone in its level [MQTT-4.7.1-1..3]. `$share/{group}/{filter}` is accepted
// when group is non-empty without '+', '#' or '/', and filter is itself valid.
bool valid_topic_filter(std::string_view filter);

// Why `filter` breaks the syntax every topic filter has (§4.7: non-empty, '#' alone in the
// last level, '+' alone in its level), or null if it does not. The whole string is read,
// a `$share/` prefix included. A SUBSCRIBE or UNSUBSCRIBE carrying such a filter is a
// protocol error that closes the connection [MQTT-4.8.0-1] (3.1.1), [MQTT-4.13.1-1]
// (5.0); valid_topic_filter() adds the rules a filter may break and still be answered
// (shared subscription names).
const char* filter_syntax_fault(std::string_view filter);

// Splits `$share/{group}/{filter}`: returns true and fills group/filter when it is one.
bool parse_shared_filter(std::string_view filter, std::string_view& group,
                         std::string_view& inner);

// True if `topic` matches `filter` ([MQTT-4.7.1], with the `$` rule of [MQTT-4.7.2-1]).
// A filter's wildcard characters in `topic` are taken literally.
bool topic_matches(std::string_view filter, std::string_view topic);

// True if every topic `inner` matches is matched by `outer` (both filters): what a grant
// of `outer` must be to allow subscribing to `inner`. "a/#" covers "a/+" and "a"; "a/+"
// does not cover "a/#"; a leading wildcard covers no filter that starts with '$'.
bool filter_covers(std::string_view outer, std::string_view inner);

// Whether a v5 packet of `type` (CONNACK, PUBACK/PUBREC, PUBREL/PUBCOMP, SUBACK, UNSUBACK,
// DISCONNECT, AUTH) may carry `reason` (spec §2.4): the decoder refuses any other.
bool reason_allowed(PacketType type, ReasonCode reason);

// True for a topic under $SYS, the broker's own tree, which clients may not publish to
// (nor name as a will topic). Inline, the first byte tested first: it runs for every
// PUBLISH, and a bare starts_with is a libc memcmp call.
inline bool is_sys_topic(std::string_view topic) {
  return !topic.empty() && topic.front() == '$' && topic.starts_with("$SYS");
}

// Encoded size of a variable byte integer (1..4).
size_t varint_size(uint32_t value);

}  // namespace peregrine::mqtt
