// One row per malformation: hand-written bytes and the exact FrameStatus / ReasonCode the
// spec prescribes. A few rows are deliberately valid edge cases (expected kSuccess) so
// the table also proves the checks are not over-eager.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/mqtt/codec.h"
#include "tests/unit/mqtt/packet_testing.h"

namespace peregrine::mqtt {
namespace {

using testing::view;

constexpr auto kV31 = ProtocolVersion::kV31;
constexpr auto kV311 = ProtocolVersion::kV311;
constexpr auto kV5 = ProtocolVersion::kV5;

constexpr auto kOk = ReasonCode::kSuccess;
constexpr auto kMalformed = ReasonCode::kMalformedPacket;
constexpr auto kProtocol = ReasonCode::kProtocolError;
constexpr auto kTopicName = ReasonCode::kTopicNameInvalid;
constexpr auto kAlias = ReasonCode::kTopicAliasInvalid;
constexpr auto kPayloadFormat = ReasonCode::kPayloadFormatInvalid;
constexpr auto kVersion = ReasonCode::kUnsupportedProtocolVersion;

struct Row {
  const char* name;
  ProtocolVersion version;
  std::vector<uint8_t> bytes;
  FrameStatus frame;  // kComplete: then decode must return `reason`
  ReasonCode reason;
  uint32_t max_packet_size = 1024;
};

// A packet whose remaining length (< 128) is computed from the hand-written body.
std::vector<uint8_t> pkt(int first, std::initializer_list<int> body) {
  std::vector<uint8_t> v = testing::wire({first, static_cast<int>(body.size())});
  for (int b : body) {
    v.push_back(static_cast<uint8_t>(b));
  }
  EXPECT_LT(body.size(), 128u);
  return v;
}

Row decodes(const char* name, ProtocolVersion v, std::vector<uint8_t> bytes, ReasonCode rc) {
  return Row{name, v, std::move(bytes), FrameStatus::kComplete, rc};
}

Row frames(const char* name, std::vector<uint8_t> bytes, FrameStatus status,
           uint32_t max = 1024) {
  return Row{name, kV311, std::move(bytes), status, kOk, max};
}

// Variable header prefixes of CONNECT ("MQTT"/"MQIsdp", level) for brevity.
#define MQTT4 0, 4, 'M', 'Q', 'T', 'T', 4
#define MQTT5 0, 4, 'M', 'Q', 'T', 'T', 5

const std::vector<Row>& rows() {
  static const std::vector<Row> kRows = {
      // --- Framing (read_frame) ---
      frames("LengthFiveBytes", testing::wire({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}),
             FrameStatus::kMalformed),
      frames("LengthNonMinimalTwoBytes", testing::wire({0xC0, 0x80, 0x00}),
             FrameStatus::kMalformed),
      frames("LengthNonMinimalFourBytes", testing::wire({0x30, 0x80, 0x80, 0x80, 0x00}),
             FrameStatus::kMalformed),
      frames("PacketTypeZero", testing::wire({0x00, 0x00}), FrameStatus::kMalformed),
      frames("TooLargeFromHeaderAlone", testing::wire({0x30, 0xFF, 0xFF, 0xFF, 0x7F}),
             FrameStatus::kTooLarge),
      frames("TooLargeByOneByte", testing::wire({0x30, 0x09}), FrameStatus::kTooLarge, 10),
      frames("ExactlyMaxSizeIsNotTooLarge", testing::wire({0x30, 0x08}), FrameStatus::kNeedMore,
             10),

      // --- Reserved fixed-header flags [MQTT-2.2.2-1..2] ---
      decodes("PubrelFlagsZero", kV311, pkt(0x60, {0, 1}), kMalformed),
      decodes("SubscribeFlagsZero", kV311, pkt(0x80, {0, 1, 0, 1, 'a', 0}), kMalformed),
      decodes("UnsubscribeFlagsZero", kV311, pkt(0xA0, {0, 1, 0, 1, 'a'}), kMalformed),
      decodes("PingreqFlagsSet", kV311, pkt(0xC1, {}), kMalformed),
      decodes("PubackFlagsSet", kV5, pkt(0x42, {0, 1}), kMalformed),
      decodes("ConnectFlagsSet", kV311, pkt(0x11, {MQTT4, 0x02, 0, 60, 0, 1, 'c'}), kMalformed),
      decodes("DisconnectFlagsSet", kV5, pkt(0xE8, {}), kMalformed),

      // --- PUBLISH ---
      decodes("PublishQos3", kV311, pkt(0x36, {0, 1, 'a', 0, 1}), kMalformed),
      decodes("PublishDupWithQos0", kV311, pkt(0x38, {0, 1, 'a'}), kMalformed),
      decodes("PublishPacketIdZero", kV311, pkt(0x32, {0, 1, 'a', 0, 0}), kMalformed),
      decodes("PublishTopicPlus", kV311, pkt(0x30, {0, 3, 'a', '/', '+'}), kTopicName),
      decodes("PublishTopicHash", kV5, pkt(0x30, {0, 1, '#', 0}), kTopicName),
      decodes("PublishEmptyTopicV311", kV311, pkt(0x30, {0, 0, 'x'}), kTopicName),
      decodes("PublishEmptyTopicV5NoAlias", kV5, pkt(0x30, {0, 0, 0, 'x'}), kProtocol),
      decodes("PublishEmptyTopicV5WithAlias", kV5, pkt(0x30, {0, 0, 3, 0x23, 0, 1}), kOk),
      decodes("PublishTopicAliasZero", kV5, pkt(0x30, {0, 1, 'a', 3, 0x23, 0, 0}), kAlias),
      decodes("PublishTopicAliasTwice", kV5,
              pkt(0x30, {0, 1, 'a', 6, 0x23, 0, 1, 0x23, 0, 2}), kProtocol),
      decodes("PublishTopicBadUtf8", kV311, pkt(0x30, {0, 1, 0xFF}), kMalformed),
      decodes("PublishTopicNul", kV311, pkt(0x30, {0, 3, 'a', 0, 'b'}), kMalformed),
      decodes("PublishTopicSurrogate", kV311, pkt(0x30, {0, 3, 0xED, 0xA0, 0x80}), kMalformed),
      decodes("PublishTopicOverlong", kV5, pkt(0x30, {0, 2, 0xC0, 0xAF, 0}), kMalformed),
      decodes("PublishWildcardThenBadUtf8IsMalformed", kV311,
              pkt(0x30, {0, 10, 'a', 'b', 'c', 'd', 'e', 'f', 'g', '#', 'x', 0xC0}), kMalformed),
      decodes("PublishTopicPastEnd", kV311, pkt(0x30, {0, 5, 'a'}), kMalformed),
      decodes("PublishPacketIdTruncated", kV311, pkt(0x32, {0, 1, 'a', 0}), kMalformed),
      decodes("PublishPayloadNotUtf8", kV5, pkt(0x30, {0, 1, 'a', 2, 0x01, 1, 0xC3}),
              kPayloadFormat),
      decodes("PublishPayloadFormatTwo", kV5, pkt(0x30, {0, 1, 'a', 2, 0x01, 2}), kProtocol),
      decodes("PublishPropertyLengthPastEnd", kV5, pkt(0x30, {0, 1, 'a', 5, 0x01}),
              kMalformed),
      decodes("PublishPropertyValuePastBlock", kV5,
              pkt(0x30, {0, 1, 'a', 2, 0x02, 0, 0, 0, 0}), kMalformed),
      decodes("PublishPropertyNotAllowed", kV5, pkt(0x30, {0, 1, 'a', 5, 0x11, 0, 0, 0, 1}),
              kMalformed),
      decodes("PublishUnknownProperty", kV5, pkt(0x30, {0, 1, 'a', 2, 0x7F, 0}), kMalformed),
      decodes("PublishPropertyIdNonMinimal", kV5, pkt(0x30, {0, 1, 'a', 3, 0x81, 0x00, 1}),
              kMalformed),
      decodes("PublishMessageExpiryTwice", kV5,
              pkt(0x30, {0, 1, 'a', 10, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2}), kProtocol),
      decodes("PublishSubscriptionIdZero", kV5, pkt(0x30, {0, 1, 'a', 2, 0x0B, 0}), kProtocol),
      decodes("PublishSubscriptionIdsRepeat", kV5,
              pkt(0x30, {0, 1, 'a', 4, 0x0B, 1, 0x0B, 2}), kOk),
      decodes("PublishContentTypeSurrogate", kV5,
              pkt(0x30, {0, 1, 'a', 6, 0x03, 0, 3, 0xED, 0xBF, 0xBF}), kMalformed),
      decodes("PublishResponseTopicWildcard", kV5,
              pkt(0x30, {0, 1, 'a', 4, 0x08, 0, 1, '#'}), kProtocol),
      decodes("PublishUserPropertyBadUtf8", kV5,
              pkt(0x30, {0, 1, 'a', 7, 0x26, 0, 1, 'k', 0, 1, 0x80}), kMalformed),

      // --- CONNECT ---
      decodes("ConnectProtocolNameUnknown", kV311,
              pkt(0x10, {0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 60, 0, 1, 'c'}), kVersion),
      decodes("ConnectLevelSix", kV311, pkt(0x10, {0, 4, 'M', 'Q', 'T', 'T', 6, 0x02, 0, 60}),
              kVersion),
      decodes("ConnectMqttLevelThree", kV311,
              pkt(0x10, {0, 4, 'M', 'Q', 'T', 'T', 3, 0x02, 0, 60, 0, 1, 'c'}), kVersion),
      decodes("ConnectMqisdpLevelFour", kV311,
              pkt(0x10, {0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 4, 0x02, 0, 60, 0, 1, 'c'}),
              kVersion),
      decodes("ConnectMqisdpLevelThree", kV31,
              pkt(0x10, {0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 60, 0, 1, 'c'}), kOk),
      decodes("ConnectTruncatedProtocolName", kV311, pkt(0x10, {0, 4, 'M', 'Q'}), kMalformed),
      decodes("ConnectReservedFlag", kV311, pkt(0x10, {MQTT4, 0x03, 0, 60, 0, 1, 'c'}),
              kMalformed),
      decodes("ConnectWillQosWithoutWill", kV311, pkt(0x10, {MQTT4, 0x0A, 0, 60, 0, 1, 'c'}),
              kMalformed),
      decodes("ConnectWillRetainWithoutWill", kV311,
              pkt(0x10, {MQTT4, 0x22, 0, 60, 0, 1, 'c'}), kMalformed),
      decodes("ConnectWillQos3", kV311,
              pkt(0x10, {MQTT4, 0x1E, 0, 60, 0, 1, 'c', 0, 1, 't', 0, 0}), kMalformed),
      decodes("ConnectPasswordWithoutUserV311", kV311,
              pkt(0x10, {MQTT4, 0x42, 0, 60, 0, 1, 'c', 0, 1, 'p'}), kMalformed),
      decodes("ConnectPasswordWithoutUserV5", kV5,
              pkt(0x10, {MQTT5, 0x42, 0, 60, 0, 0, 1, 'c', 0, 1, 'p'}), kOk),
      decodes("ConnectWillTopicWildcard", kV311,
              pkt(0x10, {MQTT4, 0x06, 0, 60, 0, 1, 'c', 0, 3, 'a', '/', '+', 0, 0}),
              kTopicName),
      decodes("ConnectWillTopicEmpty", kV311,
              pkt(0x10, {MQTT4, 0x06, 0, 60, 0, 1, 'c', 0, 0, 0, 0}), kTopicName),
      decodes("ConnectWillPayloadNotUtf8", kV5,
              pkt(0x10, {MQTT5, 0x06, 0, 60, 0, 0, 1, 'c', 2, 0x01, 1, 0, 1, 't', 0, 1, 0xFE}),
              kPayloadFormat),
      decodes("ConnectWillPropertyNotAllowed", kV5,
              pkt(0x10, {MQTT5, 0x06, 0, 60, 0, 0, 1, 'c', 3, 0x23, 0, 1, 0, 1, 't', 0, 0}),
              kMalformed),
      decodes("ConnectAuthDataWithoutMethod", kV5,
              pkt(0x10, {MQTT5, 0x02, 0, 60, 4, 0x16, 0, 1, 0xAA, 0, 1, 'c'}), kProtocol),
      decodes("ConnectTrailingByte", kV311, pkt(0x10, {MQTT4, 0x02, 0, 60, 0, 1, 'c', 0}),
              kMalformed),
      decodes("ConnectClientIdPastEnd", kV311, pkt(0x10, {MQTT4, 0x02, 0, 60, 0, 9, 'c'}),
              kMalformed),
      decodes("ConnectClientIdOverlong", kV311,
              pkt(0x10, {MQTT4, 0x02, 0, 60, 0, 2, 0xC0, 0x80}), kMalformed),
      decodes("ConnectUsernameAbove10FFFF", kV311,
              pkt(0x10, {MQTT4, 0x82, 0, 60, 0, 1, 'c', 0, 4, 0xF4, 0x90, 0x80, 0x80}),
              kMalformed),
      decodes("ConnectReceiveMaximumZero", kV5,
              pkt(0x10, {MQTT5, 0x02, 0, 60, 3, 0x21, 0, 0, 0, 1, 'c'}), kProtocol),
      decodes("ConnectMaximumPacketSizeZero", kV5,
              pkt(0x10, {MQTT5, 0x02, 0, 60, 5, 0x27, 0, 0, 0, 0, 0, 1, 'c'}), kProtocol),
      decodes("ConnectRequestProblemInfoTwo", kV5,
              pkt(0x10, {MQTT5, 0x02, 0, 60, 2, 0x17, 2, 0, 1, 'c'}), kProtocol),
      decodes("ConnectRequestResponseInfoTwo", kV5,
              pkt(0x10, {MQTT5, 0x02, 0, 60, 2, 0x19, 2, 0, 1, 'c'}), kProtocol),
      decodes("ConnectSessionExpiryTwice", kV5,
              pkt(0x10, {MQTT5, 0x02, 0, 60, 10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1, 0, 1, 'c'}),
              kProtocol),
      decodes("ConnectTopicAliasNotAllowed", kV5,
              pkt(0x10, {MQTT5, 0x02, 0, 60, 3, 0x23, 0, 1, 0, 1, 'c'}), kMalformed),

      // --- SUBSCRIBE ---
      decodes("SubscribeEmptyList", kV311, pkt(0x82, {0, 1}), kProtocol),
      decodes("SubscribeEmptyListV5", kV5, pkt(0x82, {0, 1, 0}), kProtocol),
      decodes("SubscribeQos3V311", kV311, pkt(0x82, {0, 1, 0, 1, 'a', 3}), kMalformed),
      decodes("SubscribeQos3V5", kV5, pkt(0x82, {0, 1, 0, 0, 1, 'a', 3}), kProtocol),
      decodes("SubscribeUpperBitsV311", kV311, pkt(0x82, {0, 1, 0, 1, 'a', 0x04}), kMalformed),
      decodes("SubscribeReservedBitsV5", kV5, pkt(0x82, {0, 1, 0, 0, 1, 'a', 0x40}),
              kMalformed),
      decodes("SubscribeRetainHandling3", kV5, pkt(0x82, {0, 1, 0, 0, 1, 'a', 0x30}),
              kProtocol),
      decodes("SubscribePacketIdZero", kV311, pkt(0x82, {0, 0, 0, 1, 'a', 0}), kMalformed),
      decodes("SubscribeSharedNoLocal", kV5,
              pkt(0x82, {0, 1, 0, 0, 10, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'a', 0x04}),
              kProtocol),
      decodes("SubscribeFilterBadUtf8", kV311, pkt(0x82, {0, 1, 0, 2, 'a', 0xBF, 0}),
              kMalformed),
      decodes("SubscribeOptionsMissing", kV311, pkt(0x82, {0, 1, 0, 1, 'a'}), kMalformed),
      // A filter breaking §4.7's syntax closes the connection [MQTT-4.8.0-1]; one well
      // formed but not allowed ($share without a name) is the broker's to refuse in SUBACK.
      decodes("SubscribeBadFilterSyntax", kV311,
              pkt(0x82, {0, 1, 0, 5, 'a', '/', '#', '/', 'b', 1}), kProtocol),
      decodes("SubscribeEmptyFilter", kV311, pkt(0x82, {4, 0xd2, 0, 0, 0}), kProtocol),
      decodes("SubscribePlusInsideLevelV5", kV5,
              pkt(0x82, {0, 1, 0, 0, 4, 'a', 'b', '+', 'e', 0}), kProtocol),
      decodes("SubscribeShareWithoutNameIsDecoded", kV311,
              pkt(0x82, {0, 1, 0, 9, '$', 's', 'h', 'a', 'r', 'e', '/', '/', 'x', 0}), kOk),
      decodes("UnsubscribeEmptyFilter", kV311, pkt(0xA2, {4, 0xd2, 0, 0, 0, 1, 'q'}),
              kProtocol),
      decodes("UnsubscribeHashInsideLevelV5", kV5,
              pkt(0xA2, {0, 1, 0, 0, 3, 'a', '#', 'b'}), kProtocol),
      decodes("SubscribeSubscriptionIdTwice", kV5,
              pkt(0x82, {0, 1, 4, 0x0B, 1, 0x0B, 2, 0, 1, 'a', 0}), kProtocol),
      decodes("SubscribeSubscriptionIdNonMinimal", kV5,
              pkt(0x82, {0, 1, 3, 0x0B, 0x81, 0x00, 0, 1, 'a', 0}), kMalformed),

      // --- UNSUBSCRIBE ---
      decodes("UnsubscribeEmptyList", kV311, pkt(0xA2, {0, 1}), kProtocol),
      decodes("UnsubscribePacketIdZero", kV5, pkt(0xA2, {0, 0, 0, 0, 1, 'a'}), kMalformed),
      decodes("UnsubscribeFilterPastEnd", kV311, pkt(0xA2, {0, 1, 0, 4, 'a'}), kMalformed),

      // --- PUBACK / PUBREC / PUBREL / PUBCOMP ---
      decodes("PubackV311Length3", kV311, pkt(0x40, {0, 1, 0}), kMalformed),
      decodes("PubackTruncated", kV311, pkt(0x40, {0}), kMalformed),
      decodes("PubackPacketIdZero", kV311, pkt(0x40, {0, 0}), kMalformed),
      decodes("PubackV5ReasonOnly", kV5, pkt(0x40, {0, 1, 0x10}), kOk),
      decodes("PubackV5ReasonNotAllowed", kV5, pkt(0x40, {0, 1, 0x92}), kMalformed),
      decodes("PubrelV5ReasonNotAllowed", kV5, pkt(0x62, {0, 1, 0x10}), kMalformed),
      decodes("PubcompV5ReasonNotFound", kV5, pkt(0x70, {0, 1, 0x92, 0}), kOk),
      decodes("PubrecV5PropertyNotAllowed", kV5, pkt(0x50, {0, 1, 0, 2, 0x01, 0}), kMalformed),
      decodes("PubackV5TrailingByte", kV5, pkt(0x40, {0, 1, 0, 0, 0}), kMalformed),

      // --- DISCONNECT / PINGREQ / PINGRESP / AUTH ---
      decodes("DisconnectV311NonEmpty", kV311, pkt(0xE0, {0}), kMalformed),
      decodes("PingreqNonEmpty", kV5, pkt(0xC0, {0}), kMalformed),
      decodes("PingrespNonEmpty", kV311, pkt(0xD0, {0}), kMalformed),
      decodes("DisconnectV5ReasonOnly", kV5, pkt(0xE0, {0x04}), kOk),
      decodes("DisconnectV5ReasonNotAllowed", kV5, pkt(0xE0, {0x01}), kMalformed),
      decodes("DisconnectV5PropertyNotAllowed", kV5, pkt(0xE0, {0, 2, 0x24, 1}), kMalformed),
      decodes("AuthInV311", kV311, pkt(0xF0, {}), kMalformed),
      decodes("AuthV5ReasonNotAllowed", kV5, pkt(0xF0, {0x01}), kMalformed),
      decodes("AuthV5DataWithoutMethod", kV5, pkt(0xF0, {0x18, 4, 0x16, 0, 1, 0xAA}),
              kProtocol),

      // --- Client side: CONNACK / SUBACK / UNSUBACK ---
      decodes("ConnackReservedFlags", kV311, pkt(0x20, {0x02, 0}), kMalformed),
      decodes("ConnackV3UnknownCode", kV311, pkt(0x20, {0, 6}), kMalformed),
      decodes("ConnackV5PropertiesMissing", kV5, pkt(0x20, {0, 0}), kMalformed),
      decodes("ConnackV5MaximumQosTwo", kV5, pkt(0x20, {0, 0, 2, 0x24, 2}), kProtocol),
      decodes("ConnackV5RetainAvailableTwo", kV5, pkt(0x20, {0, 0, 2, 0x25, 2}), kProtocol),
      decodes("ConnackV5WildcardAvailableTwo", kV5, pkt(0x20, {0, 0, 2, 0x28, 2}), kProtocol),
      decodes("ConnackV5SubIdAvailableTwo", kV5, pkt(0x20, {0, 0, 2, 0x29, 2}), kProtocol),
      decodes("ConnackV5SharedAvailableTwo", kV5, pkt(0x20, {0, 0, 2, 0x2A, 2}), kProtocol),
      decodes("ConnackV5ReasonNotAllowed", kV5, pkt(0x20, {0, 0x10, 0}), kMalformed),
      decodes("SubackV3ReasonNotAllowed", kV311, pkt(0x90, {0, 1, 0x8F}), kMalformed),
      decodes("SubackEmpty", kV311, pkt(0x90, {0, 1}), kProtocol),
      decodes("UnsubackV311Length3", kV311, pkt(0xB0, {0, 1, 0}), kMalformed),
      decodes("UnsubackV5ReasonNotAllowed", kV5, pkt(0xB0, {0, 1, 0, 0x10}), kMalformed),
  };
  return kRows;
}

#undef MQTT4
#undef MQTT5

class Malformed : public ::testing::TestWithParam<Row> {};

TEST_P(Malformed, GivesTheSpecifiedResult) {
  const Row& row = GetParam();
  const Frame frame = read_frame(view(row.bytes), row.max_packet_size);
  ASSERT_EQ(frame.status, row.frame);
  if (row.frame != FrameStatus::kComplete) {
    return;
  }
  ASSERT_EQ(frame.header.total_length(), row.bytes.size()) << "row's bytes are mis-sized";
  const Bytes body = view(row.bytes).subspan(frame.header.header_length);
  Packet out;
  EXPECT_EQ(decode(row.version, frame.header, body, out), row.reason);
  if (frame.header.type == PacketType::kPublish) {
    // The broker's fast path must agree with decode().
    Publish p;
    EXPECT_EQ(decode_publish(row.version, frame.header.flags, body, p), row.reason);
  }
  if (is_ack(frame.header.type)) {
    // So must the acknowledgements' (the broker's and the load generator's).
    Ack a;
    EXPECT_EQ(decode_ack(row.version, frame.header, body, a), row.reason);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, Malformed, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return std::string(info.param.name);
                         });

TEST(MalformedTable, HasAtLeastFortyFiveMalformations) {
  size_t errors = 0;
  for (const Row& row : rows()) {
    errors += row.frame != FrameStatus::kComplete || row.reason != kOk;
  }
  EXPECT_GE(errors, 45u);
}

TEST(DecodeConnect, UnsupportedVersionReportsTheLevelByte) {
  const std::vector<uint8_t> bytes = pkt(0x10, {0, 4, 'M', 'Q', 'T', 'T', 7, 0x02, 0, 60});
  Connect c;
  EXPECT_EQ(decode_connect(0, view(bytes).subspan(2), c), kVersion);
  EXPECT_EQ(static_cast<int>(c.version), 7);
}

TEST(DecodeConnect, ReadsEveryField) {
  const std::vector<uint8_t> bytes =
      pkt(0x10, {0, 4, 'M', 'Q', 'T', 'T', 4, 0xF4, 0x01, 0x2C, 0, 2, 'i', 'd', 0, 1, 't', 0,
                 2, 0x00, 0xFF, 0, 1, 'u', 0, 3, 'p', 0x00, 'w'});
  Connect c;
  ASSERT_EQ(decode_connect(0, view(bytes).subspan(2), c), kOk);
  EXPECT_EQ(c.version, kV311);
  EXPECT_FALSE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 300);
  EXPECT_EQ(c.client_id, "id");
  ASSERT_TRUE(c.will.has_value());
  EXPECT_EQ(c.will->qos, 2);
  EXPECT_TRUE(c.will->retain);
  EXPECT_EQ(c.will->topic, "t");
  EXPECT_TRUE(same_bytes(c.will->payload, testing::view(testing::wire({0x00, 0xFF}))));
  EXPECT_EQ(c.username, "u");
  ASSERT_TRUE(c.password.has_value());
  EXPECT_EQ(as_string_view(*c.password), std::string_view("p\0w", 3));
}

}  // namespace
}  // namespace peregrine::mqtt
