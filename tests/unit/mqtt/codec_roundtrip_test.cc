// decode(encode(x)) == x for every packet type on every version it exists in, and for
// every v5 property on a packet that allows it.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "src/mqtt/codec.h"
#include "tests/unit/mqtt/packet_testing.h"

namespace peregrine::mqtt {
namespace {

using testing::decode_one;
using testing::view;

constexpr ProtocolVersion kV31 = ProtocolVersion::kV31;
constexpr ProtocolVersion kV311 = ProtocolVersion::kV311;
constexpr ProtocolVersion kV5 = ProtocolVersion::kV5;
constexpr ProtocolVersion kAllVersions[] = {kV31, kV311, kV5};

// Binary data with zero bytes in it, and the extremes of every integer width.
const uint8_t kBinary[] = {0x00, 0xFF, 0x00, 0x01, 0x80, 0x00};
const Bytes kBinaryBytes(kBinary, sizeof(kBinary));

// Encodes, checks the framing, decodes and compares; returns the encoding.
std::vector<uint8_t> round_trip(ProtocolVersion version, const Packet& packet) {
  std::vector<uint8_t> bytes;
  encode(version, packet, bytes);
  const Frame frame = read_frame(view(bytes), kMaxRemainingLength + 5);
  EXPECT_EQ(frame.status, FrameStatus::kComplete);
  EXPECT_EQ(frame.header.total_length(), bytes.size());
  EXPECT_EQ(frame.header.type, packet_type(packet));
  Packet decoded;
  EXPECT_EQ(decode_one(version, bytes, decoded), ReasonCode::kSuccess);
  EXPECT_EQ(decoded, packet);
  // Re-encoding the decoded value gives the same bytes.
  std::vector<uint8_t> again;
  encode(version, decoded, again);
  EXPECT_EQ(again, bytes);
  return bytes;
}

Connect make_connect(ProtocolVersion version) {
  Connect c;
  c.version = version;
  return c;
}

TEST(CodecRoundTrip, ConnectMinimalEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    SCOPED_TRACE(static_cast<int>(v));
    Connect c = make_connect(v);
    c.client_id = "";  // empty client id: the server may assign one
    c.keep_alive = 0;
    round_trip(v, c);
    c.client_id = "client-1";
    c.clean_start = false;
    c.keep_alive = 65'535;
    round_trip(v, c);
  }
}

TEST(CodecRoundTrip, ConnectProtocolNameMatchesVersion) {
  const std::vector<uint8_t> v31 = round_trip(kV31, make_connect(kV31));
  EXPECT_EQ(std::string(v31.begin() + 4, v31.begin() + 10), "MQIsdp");
  EXPECT_EQ(v31[10], 3);
  const std::vector<uint8_t> v311 = round_trip(kV311, make_connect(kV311));
  EXPECT_EQ(std::string(v311.begin() + 4, v311.begin() + 8), "MQTT");
  EXPECT_EQ(v311[8], 4);
}

TEST(CodecRoundTrip, ConnectWithWillUserAndPasswordEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    for (uint8_t qos = 0; qos <= 2; ++qos) {
      SCOPED_TRACE(static_cast<int>(v));
      Connect c = make_connect(v);
      c.client_id = "c";
      c.will.emplace();
      c.will->qos = qos;
      c.will->retain = qos == 1;
      c.will->topic = "last/will";
      c.will->payload = kBinaryBytes;
      c.username = "";
      c.password = kBinaryBytes;
      round_trip(v, c);
      c.will->payload = Bytes();
      c.username = "user\xC3\xA9";
      c.password = Bytes();
      round_trip(v, c);
    }
  }
}

TEST(CodecRoundTrip, ConnectV5PasswordWithoutUsername) {
  Connect c = make_connect(kV5);
  c.password = kBinaryBytes;
  round_trip(kV5, c);
}

TEST(CodecRoundTrip, ConnectV5AllConnectAndWillProperties) {
  Connect c = make_connect(kV5);
  c.client_id = "props";
  Properties& p = c.properties;
  p.session_expiry_interval = 0xFFFF'FFFF;
  p.authentication_method = "SCRAM-SHA-1";
  p.authentication_data = kBinaryBytes;
  p.request_problem_information = 0;
  p.request_response_information = 1;
  p.receive_maximum = 65'535;
  p.topic_alias_maximum = 0;
  p.maximum_packet_size = 268'435'460;
  p.user_properties = {{"k", "v"}, {"k", "v"}, {"", ""}};
  c.will.emplace();
  c.will->topic = "w";
  c.will->payload = as_bytes("text");
  Properties& w = c.will->properties;
  w.payload_format_indicator = 1;
  w.message_expiry_interval = 0;
  w.content_type = "text/plain";
  w.response_topic = "reply/here";
  w.correlation_data = kBinaryBytes;
  w.will_delay_interval = 30;
  w.user_properties = {{"will", "prop"}};
  round_trip(kV5, c);
}

TEST(CodecRoundTrip, ConnackV3EveryReturnCode) {
  const ReasonCode kV3Codes[] = {
      ReasonCode::kSuccess,          ReasonCode::kUnsupportedProtocolVersion,
      ReasonCode::kClientIdentifierNotValid, ReasonCode::kServerUnavailable,
      ReasonCode::kBadUserNameOrPassword, ReasonCode::kNotAuthorized};
  for (ProtocolVersion v : {kV31, kV311}) {
    for (size_t i = 0; i < std::size(kV3Codes); ++i) {
      Connack c;
      c.reason = kV3Codes[i];
      c.session_present = i == 0;
      const std::vector<uint8_t> bytes = round_trip(v, c);
      ASSERT_EQ(bytes.size(), 4u);
      EXPECT_EQ(bytes[3], i);
    }
  }
}

TEST(CodecRoundTrip, ConnackV3MapsV5Reasons) {
  Connack c;
  c.reason = ReasonCode::kBanned;
  std::vector<uint8_t> bytes;
  encode(kV311, c, bytes);
  EXPECT_EQ(bytes, testing::wire({0x20, 0x02, 0x00, 0x05}));
  Packet decoded;
  ASSERT_EQ(decode_one(kV311, bytes, decoded), ReasonCode::kSuccess);
  EXPECT_EQ(std::get<Connack>(decoded).reason, ReasonCode::kNotAuthorized);
}

TEST(CodecRoundTrip, ConnackV5AllConnackProperties) {
  Connack c;
  c.session_present = true;
  Properties& p = c.properties;
  p.session_expiry_interval = 7;
  p.assigned_client_identifier = "auto-1";
  p.server_keep_alive = 120;
  p.authentication_method = "m";
  p.authentication_data = Bytes();
  p.response_information = "resp/";
  p.server_reference = "other:1883";
  p.reason_string = "";
  p.receive_maximum = 1;
  p.topic_alias_maximum = 10;
  p.maximum_qos = 1;
  p.retain_available = 0;
  p.user_properties = {{"a", "b"}};
  p.maximum_packet_size = 1;
  p.wildcard_subscription_available = 0;
  p.subscription_identifier_available = 1;
  p.shared_subscription_available = 0;
  round_trip(kV5, c);
  c = Connack{};
  c.reason = ReasonCode::kQuotaExceeded;
  round_trip(kV5, c);
}

TEST(CodecRoundTrip, PublishEveryQosEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    for (uint8_t qos = 0; qos <= 2; ++qos) {
      SCOPED_TRACE(static_cast<int>(v) * 10 + qos);
      Publish p;
      p.qos = qos;
      p.topic = "a/b/c";
      p.packet_id = qos == 0 ? 0 : 65'535;
      p.payload = kBinaryBytes;
      round_trip(v, p);
      p.retain = true;
      p.dup = qos > 0;
      p.payload = Bytes();
      round_trip(v, p);
    }
  }
}

TEST(CodecRoundTrip, PublishV5AllPublishProperties) {
  Publish p;
  p.qos = 1;
  p.packet_id = 1;
  p.topic = "t";
  p.payload = as_bytes("\xE2\x82\xAC uro");  // valid UTF-8 for format indicator 1
  Properties& pr = p.properties;
  pr.payload_format_indicator = 1;
  pr.message_expiry_interval = 0xFFFF'FFFF;
  pr.content_type = "application/json";
  pr.response_topic = "resp";
  pr.correlation_data = kBinaryBytes;
  pr.subscription_identifiers = {1, 127, 128, 16'383, 16'384, 2'097'151, 2'097'152,
                                 268'435'455};  // every varint width
  pr.topic_alias = 65'535;
  pr.user_properties = {{"x", "1"}, {"x", "2"}};
  round_trip(kV5, p);
}

// Encodes each step's packet and decodes it into one object, again and again (as the
// broker does): each decode must leave exactly its own packet, whether the one before had
// properties or not.
template <typename P, typename Decode>
void decode_each_into_one(const std::vector<std::pair<ProtocolVersion, P>>& steps,
                          Decode decode) {
  P into;
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& [version, packet] = steps[i];
    std::vector<uint8_t> bytes;
    encode(version, packet, bytes);
    const Frame frame = read_frame(view(bytes), kMaxRemainingLength + 5);
    ASSERT_EQ(frame.status, FrameStatus::kComplete);
    ASSERT_EQ(decode(version, frame.header, view(bytes).subspan(frame.header.header_length),
                     into),
              ReasonCode::kSuccess)
        << "step " << i;
    EXPECT_EQ(into, packet) << "step " << i;
  }
}

TEST(CodecRoundTrip, PublishDecodedIntoAgainKeepsOnlyItsOwnProperties) {
  Publish with;
  with.topic = "t";
  with.properties.content_type = "text/plain";
  with.properties.user_properties = {{"k", "v"}};
  Publish without;
  without.topic = "t";
  decode_each_into_one<Publish>(
      {{kV5, with}, {kV311, without}, {kV5, with}, {kV5, without}, {kV5, without},
       {kV5, with}, {kV311, without}},
      [](ProtocolVersion v, const FixedHeader& header, Bytes body, Publish& out) {
        return decode_publish(v, header.flags, body, out);
      });
}

TEST(CodecRoundTrip, AckDecodedIntoAgainKeepsOnlyItsOwnProperties) {
  Ack with{PacketType::kPuback, 7, ReasonCode::kNoMatchingSubscribers, {}};
  with.properties.reason_string = "none";
  const Ack reason_only{PacketType::kPuback, 8, ReasonCode::kNoMatchingSubscribers, {}};
  const Ack plain{PacketType::kPuback, 9, ReasonCode::kSuccess, {}};
  decode_each_into_one<Ack>(
      {{kV5, with}, {kV311, plain}, {kV5, with}, {kV5, reason_only}, {kV5, with},
       {kV311, plain}},
      [](ProtocolVersion v, const FixedHeader& header, Bytes body, Ack& out) {
        return decode_ack(v, header, body, out);
      });
}

TEST(CodecRoundTrip, PublishV5EmptyTopicWithAlias) {
  Publish p;
  p.topic = "";
  p.properties.topic_alias = 1;
  p.payload = kBinaryBytes;
  round_trip(kV5, p);
}

TEST(CodecRoundTrip, PublishUtf8PayloadMayContainNul) {
  Publish p;
  p.topic = "t";
  p.properties.payload_format_indicator = 1;
  p.payload = kBinaryBytes.first(1);  // a lone 0x00 is well-formed UTF-8
  round_trip(kV5, p);
}

TEST(CodecRoundTrip, PublishLargestVarintWidths) {
  // Remaining lengths of 1, 2, 3 and 4 bytes, each at the boundary.
  for (size_t payload : {size_t{0}, size_t{127 - 3}, size_t{128 - 3}, size_t{16'383 - 3},
                         size_t{16'384 - 3}, size_t{2'097'151 - 3}, size_t{2'097'152 - 3}}) {
    std::vector<uint8_t> data(payload, 0xAB);
    Publish p;
    p.topic = "t";
    p.payload = Bytes(data.data(), data.size());
    const std::vector<uint8_t> bytes = round_trip(kV311, p);
    EXPECT_EQ(bytes.size(), 1 + varint_size(static_cast<uint32_t>(payload + 3)) + payload + 3);
  }
}

TEST(CodecRoundTrip, EncodePublishHeadPlusPayloadEqualsEncode) {
  for (ProtocolVersion v : kAllVersions) {
    Publish p;
    p.qos = 2;
    p.packet_id = 9;
    p.retain = true;
    p.topic = "sensors/1/temp";
    p.properties.subscription_identifiers = {5};
    p.properties.message_expiry_interval = 60;
    p.payload = kBinaryBytes;
    std::vector<uint8_t> full;
    encode(v, p, full);
    std::vector<uint8_t> head = {0xEE};  // appends, keeping what is there
    encode_publish_head(v, p, p.payload.size(), head);
    head.insert(head.end(), p.payload.begin(), p.payload.end());
    EXPECT_EQ(std::vector<uint8_t>(head.begin() + 1, head.end()), full);
    EXPECT_EQ(publish_size(v, p, p.payload.size()), full.size());
  }
}

TEST(CodecRoundTrip, Qos0PublishHeadClearsQosDupRetainAndPacketIdInPlace) {
  for (ProtocolVersion v : kAllVersions) {
    Publish p;
    p.qos = 2;
    p.dup = true;
    p.packet_id = 9;
    p.retain = true;
    p.topic = "sensors/1/temp";
    p.properties.content_type = "text/plain";
    p.payload = kBinaryBytes;
    Publish q0 = p;
    q0.qos = 0;
    q0.dup = false;
    q0.retain = false;
    q0.packet_id = 0;
    std::vector<uint8_t> expected;
    encode_publish_head(v, q0, p.payload.size(), expected);
    std::vector<uint8_t> head;
    encode_qos0_publish_head(v, p.topic, p.properties, p.payload.size(), head);
    EXPECT_EQ(head, expected);
    EXPECT_EQ(head[0], 0x30);
  }
}

TEST(CodecRoundTrip, PlainQos0HeadIsTheQos0HeadOfAMessageWithoutProperties) {
  // Payload sizes on both sides of every remaining-length byte boundary.
  const size_t kSizes[] = {0, 1, 100, 127 - 9, 128 - 9, 16383 - 9, 16384 - 9,
                           2097151 - 9, 2097152 - 9};
  const Properties none;
  for (ProtocolVersion v : kAllVersions) {
    for (size_t size : kSizes) {
      std::vector<uint8_t> expected;
      encode_qos0_publish_head(v, "sensor/1", none, size, expected);
      std::vector<uint8_t> head = {0xEE};  // appends after what is there
      encode_plain_publish_head(v, "sensor/1", 0, false, false, 0, size, head);
      ASSERT_EQ(head.size(), expected.size() + 1);
      EXPECT_EQ(std::vector<uint8_t>(head.begin() + 1, head.end()), expected)
          << "version " << static_cast<int>(v) << " payload " << size;
    }
  }
}

TEST(CodecRoundTrip, PlainPublishHeadIsTheHeadOfAPublishWithoutProperties) {
  for (ProtocolVersion v : kAllVersions) {
    for (uint8_t qos = 0; qos <= 2; ++qos) {
      for (bool retain : {false, true}) {
        for (size_t size : {size_t{0}, size_t{120}, size_t{16380}}) {
          Publish p;
          p.qos = qos;
          p.retain = retain;
          p.dup = qos > 0 && retain;
          p.packet_id = qos > 0 ? 0x1234 : 0;
          p.topic = "a/b/c";
          std::vector<uint8_t> expected;
          encode_publish_head(v, p, size, expected);
          std::vector<uint8_t> head;
          encode_plain_publish_head(v, p.topic, qos, retain, p.dup, p.packet_id, size, head);
          EXPECT_EQ(head, expected) << "version " << static_cast<int>(v) << " qos "
                                    << static_cast<int>(qos) << " payload " << size;
          std::vector<uint8_t> raw(plain_publish_head_size(v, p.topic.size(), qos, size));
          EXPECT_EQ(encode_plain_publish_head(v, p.topic, qos, retain, p.dup, p.packet_id,
                                              size, raw.data()),
                    raw.size());
          EXPECT_EQ(raw, expected);
        }
      }
    }
  }
}

TEST(CodecRoundTrip, SuccessAckIsTheEncodingOfASuccessAckInEveryVersion) {
  const PacketType kTypes[] = {PacketType::kPuback, PacketType::kPubrec, PacketType::kPubrel,
                               PacketType::kPubcomp};
  for (ProtocolVersion v : kAllVersions) {
    for (PacketType t : kTypes) {
      std::vector<uint8_t> expected;
      encode(v, Ack{t, 0xBEEF, ReasonCode::kSuccess, {}}, expected);
      uint8_t ack[kSuccessAckSize];
      encode_success_ack(t, 0xBEEF, ack);
      EXPECT_EQ(std::vector<uint8_t>(ack, ack + kSuccessAckSize), expected)
          << "version " << static_cast<int>(v) << " type " << static_cast<int>(t);
    }
  }
}

TEST(CodecRoundTrip, AcksEveryTypeEveryVersion) {
  const PacketType kTypes[] = {PacketType::kPuback, PacketType::kPubrec, PacketType::kPubrel,
                               PacketType::kPubcomp};
  for (ProtocolVersion v : kAllVersions) {
    for (PacketType t : kTypes) {
      Ack a;
      a.type = t;
      a.packet_id = 42;
      EXPECT_EQ(round_trip(v, a).size(), 4u);
    }
  }
  for (PacketType t : kTypes) {
    const bool pub = t == PacketType::kPuback || t == PacketType::kPubrec;
    Ack a;
    a.type = t;
    a.packet_id = 1;
    a.reason = pub ? ReasonCode::kNoMatchingSubscribers : ReasonCode::kPacketIdentifierNotFound;
    EXPECT_EQ(round_trip(kV5, a).size(), 5u);  // reason, no properties
    a.properties.reason_string = "why";
    a.properties.user_properties = {{"k", ""}};
    round_trip(kV5, a);
    a.reason = ReasonCode::kSuccess;  // success with properties keeps the reason byte
    round_trip(kV5, a);
  }
}

TEST(CodecRoundTrip, SubscribeEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    Subscribe s;
    s.packet_id = 7;
    s.subscriptions = {{"a/+/c", 0}, {"#", 1}, {"x/y", 2}, {"a/b/#", 1}};
    round_trip(v, s);
  }
  Subscribe s;
  s.packet_id = 65'535;
  s.properties.subscription_identifiers = {268'435'455};
  s.properties.user_properties = {{"u", "p"}};
  SubscriptionRequest r1{"a", 2, true, true, 2};
  SubscriptionRequest r2{"$share/g/a/#", 1, false, true, 1};
  s.subscriptions = {r1, r2};
  round_trip(kV5, s);
}

TEST(CodecRoundTrip, SubackEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    Suback s;
    s.packet_id = 3;
    s.reasons = {ReasonCode::kGrantedQos1, ReasonCode::kSuccess, ReasonCode::kGrantedQos2,
                 ReasonCode::kUnspecifiedError};
    round_trip(v, s);
  }
  Suback s;
  s.packet_id = 3;
  s.reasons = {ReasonCode::kTopicFilterInvalid, ReasonCode::kWildcardSubscriptionsNotSupported};
  s.properties.reason_string = "no";
  s.properties.user_properties = {{"a", "b"}};
  round_trip(kV5, s);
}

TEST(CodecRoundTrip, SubackV3MapsErrorsToFailure) {
  Suback s;
  s.packet_id = 3;
  s.reasons = {ReasonCode::kTopicFilterInvalid};
  std::vector<uint8_t> bytes;
  encode(kV311, s, bytes);
  EXPECT_EQ(bytes, testing::wire({0x90, 0x03, 0x00, 0x03, 0x80}));
}

TEST(CodecRoundTrip, UnsubscribeAndUnsubackEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    Unsubscribe u;
    u.packet_id = 11;
    u.filters = {"a/b", "#", "\xF0\x9F\x98\x80"};
    round_trip(v, u);
    Unsuback ua;
    ua.packet_id = 11;
    if (v == kV5) {
      ua.reasons = {ReasonCode::kSuccess, ReasonCode::kNoSubscriptionExisted};
      ua.properties.reason_string = "r";
      u.properties.user_properties = {{"k", "v"}};
      round_trip(v, u);
    }
    round_trip(v, ua);
  }
}

TEST(CodecRoundTrip, PingsEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    EXPECT_EQ(round_trip(v, Pingreq{}), testing::wire({0xC0, 0x00}));
    EXPECT_EQ(round_trip(v, Pingresp{}), testing::wire({0xD0, 0x00}));
  }
}

TEST(CodecRoundTrip, DisconnectEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    EXPECT_EQ(round_trip(v, Disconnect{}), testing::wire({0xE0, 0x00}));
  }
  Disconnect d;
  d.reason = ReasonCode::kDisconnectWithWill;
  EXPECT_EQ(round_trip(kV5, d), testing::wire({0xE0, 0x01, 0x04}));
  d.reason = ReasonCode::kServerMoved;
  d.properties.session_expiry_interval = 0;
  d.properties.server_reference = "elsewhere";
  d.properties.reason_string = "moving";
  d.properties.user_properties = {{"a", "b"}};
  round_trip(kV5, d);
}

TEST(CodecRoundTrip, AuthV5) {
  EXPECT_EQ(round_trip(kV5, Auth{}), testing::wire({0xF0, 0x00}));
  Auth a;
  a.reason = ReasonCode::kContinueAuthentication;
  a.properties.authentication_method = "SCRAM";
  a.properties.authentication_data = kBinaryBytes;
  a.properties.reason_string = "step";
  a.properties.user_properties = {{"a", "b"}};
  round_trip(kV5, a);
  a.reason = ReasonCode::kReAuthenticate;
  a.properties = Properties{};
  round_trip(kV5, a);
}

// One row per property: a v5 packet allowed to carry it, with only that property set.
struct PropertyCase {
  const char* name;
  std::function<Packet()> make;
};

Packet publish_with(const std::function<void(Properties&)>& set) {
  Publish p;
  p.topic = "t";
  set(p.properties);
  return p;
}

Packet connect_with(const std::function<void(Properties&)>& set) {
  Connect c = make_connect(kV5);
  set(c.properties);
  return c;
}

Packet will_with(const std::function<void(Properties&)>& set) {
  Connect c = make_connect(kV5);
  c.will.emplace();
  c.will->topic = "w";
  set(c.will->properties);
  return c;
}

Packet connack_with(const std::function<void(Properties&)>& set) {
  Connack c;
  set(c.properties);
  return c;
}

const PropertyCase kPropertyCases[] = {
    {"payload_format_indicator", [] { return publish_with([](Properties& p) {
       p.payload_format_indicator = 0; }); }},
    {"message_expiry_interval", [] { return publish_with([](Properties& p) {
       p.message_expiry_interval = 0xFFFF'FFFF; }); }},
    {"content_type", [] { return publish_with([](Properties& p) { p.content_type = ""; }); }},
    {"response_topic", [] { return publish_with([](Properties& p) {
       p.response_topic = "r/t"; }); }},
    {"correlation_data", [] { return publish_with([](Properties& p) {
       p.correlation_data = kBinaryBytes; }); }},
    {"subscription_identifier", [] { return publish_with([](Properties& p) {
       p.subscription_identifiers = {268'435'455}; }); }},
    {"session_expiry_interval", [] { return connect_with([](Properties& p) {
       p.session_expiry_interval = 1; }); }},
    {"assigned_client_identifier", [] { return connack_with([](Properties& p) {
       p.assigned_client_identifier = "id"; }); }},
    {"server_keep_alive", [] { return connack_with([](Properties& p) {
       p.server_keep_alive = 0; }); }},
    {"authentication_method", [] { return connect_with([](Properties& p) {
       p.authentication_method = "m"; }); }},
    {"authentication_data", [] { return connect_with([](Properties& p) {
       p.authentication_method = "m";
       p.authentication_data = kBinaryBytes; }); }},
    {"request_problem_information", [] { return connect_with([](Properties& p) {
       p.request_problem_information = 1; }); }},
    {"will_delay_interval", [] { return will_with([](Properties& p) {
       p.will_delay_interval = 0xFFFF'FFFF; }); }},
    {"request_response_information", [] { return connect_with([](Properties& p) {
       p.request_response_information = 0; }); }},
    {"response_information", [] { return connack_with([](Properties& p) {
       p.response_information = "ri"; }); }},
    {"server_reference", [] {
       Disconnect d;
       d.reason = ReasonCode::kUseAnotherServer;
       d.properties.server_reference = "s";
       return Packet(d); }},
    {"reason_string", [] {
       Ack a;
       a.type = PacketType::kPubcomp;
       a.packet_id = 5;
       a.properties.reason_string = "because";
       return Packet(a); }},
    {"receive_maximum", [] { return connect_with([](Properties& p) {
       p.receive_maximum = 1; }); }},
    {"topic_alias_maximum", [] { return connack_with([](Properties& p) {
       p.topic_alias_maximum = 65'535; }); }},
    {"topic_alias", [] { return publish_with([](Properties& p) { p.topic_alias = 1; }); }},
    {"maximum_qos", [] { return connack_with([](Properties& p) { p.maximum_qos = 0; }); }},
    {"retain_available", [] { return connack_with([](Properties& p) {
       p.retain_available = 1; }); }},
    {"user_property", [] {
       Unsubscribe u;
       u.packet_id = 1;
       u.filters = {"f"};
       u.properties.user_properties = {{"k", "v"}, {"k", "w"}};
       return Packet(u); }},
    {"maximum_packet_size", [] { return connect_with([](Properties& p) {
       p.maximum_packet_size = 0xFFFF'FFFF; }); }},
    {"wildcard_subscription_available", [] { return connack_with([](Properties& p) {
       p.wildcard_subscription_available = 1; }); }},
    {"subscription_identifier_available", [] { return connack_with([](Properties& p) {
       p.subscription_identifier_available = 0; }); }},
    {"shared_subscription_available", [] { return connack_with([](Properties& p) {
       p.shared_subscription_available = 1; }); }},
};

TEST(CodecRoundTrip, EveryPropertyAlone) {
  EXPECT_EQ(std::size(kPropertyCases), 27u);  // every PropertyId
  for (const PropertyCase& c : kPropertyCases) {
    SCOPED_TRACE(c.name);
    const Packet packet = c.make();
    round_trip(kV5, packet);
    // Before 5.0 properties are not written at all.
    if (!std::holds_alternative<Auth>(packet)) {
      std::vector<uint8_t> v5_bytes;
      std::vector<uint8_t> v3_bytes;
      encode(kV5, packet, v5_bytes);
      if (const Connect* connect = std::get_if<Connect>(&packet)) {
        Connect c3 = *connect;
        c3.version = kV311;
        c3.properties = Properties{};
        if (c3.will.has_value()) {
          c3.will->properties = Properties{};
        }
        encode(kV311, c3, v3_bytes);
      } else {
        encode(kV311, packet, v3_bytes);
      }
      EXPECT_LT(v3_bytes.size(), v5_bytes.size());
    }
  }
}

TEST(Properties, EmptyAndEqualityByContent) {
  Properties a;
  EXPECT_TRUE(a.empty());
  a.user_properties.push_back({"k", "v"});
  EXPECT_FALSE(a.empty());
  Properties b;
  EXPECT_FALSE(a == b);
  const std::string key = "k";  // a different address with the same content
  b.user_properties.push_back({key, "v"});
  EXPECT_TRUE(a == b);
  const std::vector<uint8_t> d1 = {1, 2, 3};
  const std::vector<uint8_t> d2 = {1, 2, 3};
  a.correlation_data = Bytes(d1.data(), d1.size());
  EXPECT_FALSE(a == b);
  b.correlation_data = Bytes(d2.data(), d2.size());
  EXPECT_TRUE(a == b);
  b.correlation_data = Bytes(d2.data(), 2);
  EXPECT_FALSE(a == b);
  Properties c;
  c.topic_alias = 0;  // set to a zero value is not empty
  EXPECT_FALSE(c.empty());
}

TEST(PacketType, EveryAlternative) {
  EXPECT_EQ(packet_type(Connect{}), PacketType::kConnect);
  EXPECT_EQ(packet_type(Connack{}), PacketType::kConnack);
  EXPECT_EQ(packet_type(Publish{}), PacketType::kPublish);
  Ack a;
  a.type = PacketType::kPubrec;
  EXPECT_EQ(packet_type(a), PacketType::kPubrec);
  EXPECT_EQ(packet_type(Subscribe{}), PacketType::kSubscribe);
  EXPECT_EQ(packet_type(Suback{}), PacketType::kSuback);
  EXPECT_EQ(packet_type(Unsubscribe{}), PacketType::kUnsubscribe);
  EXPECT_EQ(packet_type(Unsuback{}), PacketType::kUnsuback);
  EXPECT_EQ(packet_type(Pingreq{}), PacketType::kPingreq);
  EXPECT_EQ(packet_type(Pingresp{}), PacketType::kPingresp);
  EXPECT_EQ(packet_type(Disconnect{}), PacketType::kDisconnect);
  EXPECT_EQ(packet_type(Auth{}), PacketType::kAuth);
}

TEST(VarintSize, Boundaries) {
  EXPECT_EQ(varint_size(0), 1u);
  EXPECT_EQ(varint_size(127), 1u);
  EXPECT_EQ(varint_size(128), 2u);
  EXPECT_EQ(varint_size(16'383), 2u);
  EXPECT_EQ(varint_size(16'384), 3u);
  EXPECT_EQ(varint_size(2'097'151), 3u);
  EXPECT_EQ(varint_size(2'097'152), 4u);
  EXPECT_EQ(varint_size(kMaxRemainingLength), 4u);
}

TEST(DecodeReuse, DecodingIntoAUsedPacketLeavesNoStaleFields) {
  Publish first;
  first.topic = "a";
  first.properties.user_properties = {{"k", "v"}};
  first.properties.subscription_identifiers = {3};
  first.properties.content_type = "x";
  std::vector<uint8_t> b1;
  encode(kV5, first, b1);
  Publish second;
  second.topic = "b";
  std::vector<uint8_t> b2;
  encode(kV5, second, b2);
  Packet out;
  ASSERT_EQ(decode_one(kV5, b1, out), ReasonCode::kSuccess);
  ASSERT_EQ(decode_one(kV5, b2, out), ReasonCode::kSuccess);
  EXPECT_EQ(out, Packet(second));
}

}  // namespace
}  // namespace peregrine::mqtt
