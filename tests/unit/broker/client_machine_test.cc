// The MQTT protocol machine (Client) alone: no connection, no shard, no broker — a sink
// that records what the machine writes and does to its connection, and a broker port that
// records what it is asked.
#include "src/broker/client.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "src/base/log.h"
#include "src/io/timer_wheel.h"
#include "src/mqtt/codec.h"

namespace peregrine::broker {
namespace {

using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

class Sink final : public ClientSink {
 public:
  std::string out;
  bool is_open = true;
  bool lingering = false;
  bool closed_now = false;
  uint64_t timer_at = 0;
  uint64_t now = 1'000'000;
  std::string identity;
  std::string sni;  // the TLS SNI it gives (virtual brokers)

  uint64_t connection_id() const override { return 7; }
  std::string peer() const override { return "test"; }
  uint64_t peer_key() const override { return peer_key_value; }
  uint64_t peer_key_value = 0;
  void write(std::span<const uint8_t> b) override { out.append(b.begin(), b.end()); }
  void write(std::span<const uint8_t> a, std::span<const uint8_t> b) override {
    write(a);
    write(b);
  }
  void write_shared(io::SharedBuffer*, std::span<const uint8_t> b) override { write(b); }
  size_t queued_bytes() const override { return 0; }
  bool copies_shared(size_t) const override { return true; }
  Bounded write_within(size_t, std::span<const uint8_t> head, std::span<const uint8_t> payload,
                       io::SharedBuffer*) override {
    if (closing()) {
      return Bounded::kClosing;
    }
    write(head, payload);
    return Bounded::kWritten;
  }
  bool open() const override { return is_open; }
  bool closing() const override { return lingering || closed_now; }
  void close_after_flush() override {
    lingering = true;
    is_open = false;
  }
  void close_now() override {
    closed_now = true;
    is_open = false;
  }
  void pause_input() override {}
  void resume_input() override {}
  bool input_paused() const override { return false; }
  void detach() override { is_open = false; }
  void start() override {}
  void arm_timer(uint64_t deadline) override { timer_at = deadline; }
  void cancel_timer() override { timer_at = 0; }
  uint64_t now_ms() const override { return now; }
  const std::string& peer_identity() const override { return identity; }
  net::TlsIdentity tls_identity() const override { return net::TlsIdentity::kNone; }
  std::string_view server_name() const override { return sni; }
  std::string_view http_host() const override { return {}; }
};

// A broker of one shard that keeps its sessions itself and records publishes.
class Broker final : public BrokerPort {
 public:
  explicit Broker(const BrokerConfig& config) : BrokerPort(config) {}
  std::vector<std::string> published;
  std::vector<std::unique_ptr<Session>> sessions;
  int gone = 0;
  io::TimerWheel timers{0};

  io::Ring& ring() override { std::abort(); }  // the machine never reaches the ring
  io::TimerWheel& wheel() override { return timers; }
  uint64_t now_ms() const override { return 0; }
  void mark_dirty(net::Connection*) override {}
  void release(net::Connection*) override {}
  void detached(net::Connection*) override {}
  bool may_read(const Session&, std::string_view) const override { return true; }
  void session_timer(Session*) override {}
  uint16_t shard_id() const override { return 0; }
  void paused(Client*) override {}
  void resume_at_turn_end(Client*) override {}
  std::string assign_client_id() override { return "assigned"; }
  bool connects_here(std::string_view) const override { return true; }
  Session* open_session(Client* client, const mqtt::Connect& connect, bool* present) override {
    sessions.push_back(std::make_unique<Session>(this, std::string(connect.client_id)));
    sessions.back()->attach(client, 16);
    *present = false;
    return sessions.back().get();
  }
  void session_opened(Session*) override {}
  PublishOutcome publish(Client*, mqtt::Publish& p, uint32_t token) override {
    published.emplace_back(p.topic);
    tokens.push_back(token);
    return {p.retain && token != 0 ? retain_outcome : RetainOutcome::kNone};
  }
  bool wait_for_log(Client*, uint32_t) override { return false; }
  bool barrier_for_log(Client*, uint32_t) override { return false; }
  std::vector<uint32_t> tokens;
  RetainOutcome retain_outcome = RetainOutcome::kStored;
  void subscribe(Client*, const mqtt::Subscribe&) override {}
  void drop_ungranted(Session*) override {}
  bool token_revoked(std::string_view) const override { return false; }
  void credential_in_use(Client*) override {}
  void admin_call(net::Connection*, const http::AdminCall&) override {}
  void operator_page(net::Connection*, http::OperatorPage) override {}
  void unsubscribe(Client*, const mqtt::Unsubscribe&) override {}
  void client_gone(Client* client) override {
    ++gone;
    client->session()->detach();
  }
};

std::vector<uint8_t> encoded(ProtocolVersion version, const mqtt::Packet& packet) {
  std::vector<uint8_t> out;
  mqtt::encode(version, packet, out);
  return out;
}

mqtt::Connect connect_packet(ProtocolVersion version, uint16_t keep_alive = 0) {
  mqtt::Connect c;
  c.version = version;
  c.client_id = "m";
  c.keep_alive = keep_alive;
  return c;
}

// The packets in what the machine wrote.
std::vector<mqtt::Packet> packets(ProtocolVersion version, const std::string& out) {
  std::vector<mqtt::Packet> result;
  mqtt::Bytes rest(reinterpret_cast<const uint8_t*>(out.data()), out.size());
  while (!rest.empty()) {
    const mqtt::Frame frame = mqtt::read_frame(rest, 1u << 20);
    EXPECT_EQ(frame.status, mqtt::FrameStatus::kComplete);
    if (frame.status != mqtt::FrameStatus::kComplete) {
      break;
    }
    mqtt::Packet packet;
    EXPECT_EQ(mqtt::decode(version, frame.header,
                           rest.subspan(frame.header.header_length,
                                        frame.header.remaining_length),
                           packet),
              ReasonCode::kSuccess);
    result.push_back(packet);
    rest = rest.subspan(frame.header.total_length());
  }
  return result;
}

class ClientMachineTest : public ::testing::Test {
 protected:
  ClientMachineTest() : broker(config()), client(&broker, sink) {
    base::set_log_level(base::LogLevel::kWarn);
    client.begin();
  }
  ~ClientMachineTest() override {
    if (client.session() != nullptr) {
      client.on_closed(0);
    }
  }
  static BrokerConfig config() {
    BrokerConfig c;
    c.limits.connect_timeout_ms = 5000;
    return c;
  }
  void feed(const std::vector<uint8_t>& bytes, size_t piece = 1) {
    for (size_t at = 0; at < bytes.size(); at += piece) {
      client.on_bytes(std::span<const uint8_t>(bytes).subspan(
          at, std::min(piece, bytes.size() - at)));
    }
  }
  Sink sink;
  Broker broker;
  Client client;
};

// A PUBLISH of `qos` on `topic` with packet id `id`, retained or not.
mqtt::Publish publish_of(const char* topic, uint8_t qos, uint16_t id, bool retain) {
  mqtt::Publish p;
  p.topic = topic;
  p.qos = qos;
  p.packet_id = id;
  p.retain = retain;
  return p;
}

TEST_F(ClientMachineTest, AConnectReadAByteAtATimeIsAnsweredWithOneConnack) {
  EXPECT_EQ(sink.timer_at, sink.now + 5000);  // the connect deadline
  feed(encoded(ProtocolVersion::kV5, connect_packet(ProtocolVersion::kV5)));
  EXPECT_EQ(client.phase(), Client::Phase::kConnected);
  EXPECT_EQ(broker.sessions.size(), 1u);
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<mqtt::Connack>(out[0]).reason, ReasonCode::kSuccess);
}

TEST_F(ClientMachineTest, AFirstPacketOtherThanConnectClosesWithoutAnAnswer) {
  feed(encoded(ProtocolVersion::kV311, mqtt::Pingreq{}), 8);
  EXPECT_TRUE(sink.lingering);
  EXPECT_TRUE(sink.out.empty());  // [MQTT-3.1.0-1]
  EXPECT_EQ(broker.stats().rejected[static_cast<uint8_t>(ReasonCode::kProtocolError)], 1u);
}

TEST_F(ClientMachineTest, NoConnectBeforeTheDeadlineCloses) {
  sink.now += 5000;
  client.on_timer();
  EXPECT_TRUE(sink.closed_now);
  EXPECT_EQ(broker.stats().connect_timeout, 1u);
}

TEST_F(ClientMachineTest, AWillInSysIsRefusedWithNotAuthorized) {
  mqtt::Connect c = connect_packet(ProtocolVersion::kV5);
  const uint8_t payload[] = {'x'};
  c.will = mqtt::Will{0, false, "$SYS/x", mqtt::Bytes(payload), {}};
  feed(encoded(ProtocolVersion::kV5, c), 5);
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<mqtt::Connack>(out[0]).reason, ReasonCode::kNotAuthorized);
  EXPECT_TRUE(sink.lingering);
  EXPECT_TRUE(broker.sessions.empty());
}

TEST_F(ClientMachineTest, AQoS1PublishIsHandedToTheBrokerAndAcknowledged) {
  feed(encoded(ProtocolVersion::kV311, connect_packet(ProtocolVersion::kV311)), 64);
  feed(encoded(ProtocolVersion::kV311, publish_of("a/b", 1, 9, false)), 3);
  EXPECT_EQ(broker.published, std::vector<std::string>{"a/b"});
  const auto out = packets(ProtocolVersion::kV311, sink.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<mqtt::Ack>(out[1]).type, mqtt::PacketType::kPuback);
  EXPECT_EQ(std::get<mqtt::Ack>(out[1]).packet_id, 9);
}

// A packet with no body whose fixed header completes with the last byte a read brought
// (a PINGREQ cut between its two bytes by a receive buffer's end) is handled at once, not
// when more bytes come: a client waiting for its PINGRESP sends none (bench/memory's
// stuck-qos0 stalled 60 s on it, about once in 40 runs).
TEST_F(ClientMachineTest, APacketWithoutBodyCutInItsHeaderIsHandledWhenItsLastByteComes) {
  feed(encoded(ProtocolVersion::kV311, connect_packet(ProtocolVersion::kV311)), 64);
  std::vector<uint8_t> first = encoded(ProtocolVersion::kV311, publish_of("a/b", 0, 0, false));
  first.push_back(0xC0);  // PINGREQ's first byte
  feed(first, first.size());
  feed({0x00}, 1);
  const auto out = packets(ProtocolVersion::kV311, sink.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<mqtt::Pingresp>(out[1]));
  // And a DISCONNECT cut the same way ends the connection.
  feed({0xE0}, 1);
  feed({0x00}, 1);
  EXPECT_TRUE(sink.closing());
}

TEST_F(ClientMachineTest, SilenceBeyondOneAndAHalfKeepAlivesDisconnects) {
  feed(encoded(ProtocolVersion::kV5, connect_packet(ProtocolVersion::kV5, 10)), 64);
  EXPECT_EQ(sink.timer_at, sink.now + 15'000);  // [MQTT-3.1.2-24]
  sink.now += 15'000;
  client.on_timer();
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<mqtt::Disconnect>(out[1]).reason, ReasonCode::kKeepAliveTimeout);
  EXPECT_TRUE(sink.lingering);
}

// [MQTT-3.1.2-24]: nothing larger than the client's Maximum Packet Size is sent.
TEST_F(ClientMachineTest, AClientTooSmallForItsConnackIsClosedWithoutSessionOrConnack) {
  mqtt::Connect c = connect_packet(ProtocolVersion::kV5);
  c.properties.maximum_packet_size = 8;  // a success CONNACK carries more than 8 bytes
  feed(encoded(ProtocolVersion::kV5, c), 64);
  EXPECT_TRUE(sink.out.empty());
  EXPECT_TRUE(sink.lingering);
  EXPECT_TRUE(broker.sessions.empty());
  EXPECT_NE(client.phase(), Client::Phase::kConnected);
  EXPECT_EQ(broker.stats().oversize_closed, 1u);
}

TEST_F(ClientMachineTest, ARefusingConnackDropsItsReasonStringToFit) {
  mqtt::Connect c = connect_packet(ProtocolVersion::kV5);
  c.properties.maximum_packet_size = 8;
  const uint8_t payload[] = {'x'};
  c.will = mqtt::Will{0, false, "$SYS/x", mqtt::Bytes(payload), {}};
  feed(encoded(ProtocolVersion::kV5, c), 64);
  ASSERT_EQ(sink.out.size(), 5u);  // [MQTT-3.2.2-19]: bare, where it had a Reason String
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  EXPECT_EQ(std::get<mqtt::Connack>(out[0]).reason, ReasonCode::kNotAuthorized);
  EXPECT_FALSE(std::get<mqtt::Connack>(out[0]).properties.reason_string.has_value());
}

TEST_F(ClientMachineTest, ASubscriptionIdentifierFromAClientIsAProtocolError) {
  feed(encoded(ProtocolVersion::kV5, connect_packet(ProtocolVersion::kV5)), 64);
  mqtt::Publish p = publish_of("a/b", 1, 9, false);
  p.properties.subscription_identifiers = {11};
  feed(encoded(ProtocolVersion::kV5, p), 64);
  EXPECT_TRUE(broker.published.empty());  // [MQTT-3.3.4-6]
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<mqtt::Disconnect>(out[1]).reason, ReasonCode::kProtocolError);
  EXPECT_TRUE(sink.lingering);
}

// A retained PUBLISH whose topic another shard owns: its PUBACK waits for that shard's
// answer, and those of later PUBLISHes wait behind it [MQTT-4.6.0-2].
TEST_F(ClientMachineTest, AcknowledgementsWaitInOrderForARetainedAnswer) {
  feed(encoded(ProtocolVersion::kV5, connect_packet(ProtocolVersion::kV5)), 64);
  broker.retain_outcome = RetainOutcome::kLater;
  const mqtt::Publish retained = publish_of("r/t", 1, 1, true);
  feed(encoded(ProtocolVersion::kV5, retained), 64);
  const mqtt::Publish plain = publish_of("p/t", 1, 2, false);
  feed(encoded(ProtocolVersion::kV5, plain), 64);
  ASSERT_EQ(packets(ProtocolVersion::kV5, sink.out).size(), 1u);  // the CONNACK only
  EXPECT_TRUE(client.awaits_retain_answers());
  ASSERT_EQ(broker.tokens.size(), 2u);
  EXPECT_NE(broker.tokens[0], 0u);
  EXPECT_EQ(broker.tokens[1], 0u);  // not retained: nothing to answer
  client.retain_answer(broker.tokens[0], /*stored=*/false);
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 3u);
  const auto& first = std::get<mqtt::Ack>(out[1]);
  EXPECT_EQ(first.packet_id, 1);
  EXPECT_EQ(first.reason, ReasonCode::kQuotaExceeded);
  EXPECT_TRUE(first.properties.reason_string.has_value());
  EXPECT_EQ(std::get<mqtt::Ack>(out[2]).packet_id, 2);
  EXPECT_EQ(std::get<mqtt::Ack>(out[2]).reason, ReasonCode::kSuccess);
  EXPECT_FALSE(client.awaits_retain_answers());
}

TEST_F(ClientMachineTest, ARefusedRetainedQoS2EndsItsFlowWithPubrec0x97) {
  feed(encoded(ProtocolVersion::kV5, connect_packet(ProtocolVersion::kV5)), 64);
  broker.retain_outcome = RetainOutcome::kRefused;
  const mqtt::Publish retained = publish_of("r/t", 2, 7, true);
  feed(encoded(ProtocolVersion::kV5, retained), 64);
  auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<mqtt::Ack>(out[1]).type, mqtt::PacketType::kPubrec);
  EXPECT_EQ(std::get<mqtt::Ack>(out[1]).reason, ReasonCode::kQuotaExceeded);
  // The id is free again: the same id is a new message, routed again.
  feed(encoded(ProtocolVersion::kV5, retained), 64);
  EXPECT_EQ(broker.published.size(), 2u);
}

TEST_F(ClientMachineTest, AV311PublisherIsNotAskedAboutItsRetainedMessage) {
  feed(encoded(ProtocolVersion::kV311, connect_packet(ProtocolVersion::kV311)), 64);
  broker.retain_outcome = RetainOutcome::kRefused;
  const mqtt::Publish retained = publish_of("r/t", 1, 3, true);
  feed(encoded(ProtocolVersion::kV311, retained), 64);
  EXPECT_EQ(broker.tokens, std::vector<uint32_t>{0});  // 3.1.1 has no code to say it with
  const auto out = packets(ProtocolVersion::kV311, sink.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<mqtt::Ack>(out[1]).reason, ReasonCode::kSuccess);
}


// ---- [limits]: what one client may send, each refused with its exact code ---------------

class ClientLimitsTest : public ::testing::Test {
 protected:
  ClientLimitsTest() : broker(config()), client(&broker, sink) {
    base::set_log_level(base::LogLevel::kWarn);
    client.begin();
  }
  ~ClientLimitsTest() override {
    if (client.session() != nullptr) {
      client.on_closed(0);
    }
  }
  static BrokerConfig config() {
    BrokerConfig c;
    c.limits.max_client_id_length = 23;
    c.limits.max_username_length = 32;
    c.limits.max_password_length = 4096;
    c.limits.max_topic_depth = 2;
    c.limits.max_topic_length = 40;
    c.limits.max_packets_per_second = 10;
    c.limits.min_keep_alive = 10;
    return c;
  }
  void feed(const std::vector<uint8_t>& bytes) { client.on_bytes(bytes); }
  // The reason of the only CONNACK written.
  ReasonCode connack_reason(ProtocolVersion version) {
    const auto out = packets(version, sink.out);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? ReasonCode::kSuccess : std::get<mqtt::Connack>(out[0]).reason;
  }
  Sink sink;
  Broker broker;
  Client client;
};

TEST_F(ClientLimitsTest, AClientIdLongerThanTheLimitGetsConnack0x85) {
  mqtt::Connect c = connect_packet(ProtocolVersion::kV5);
  c.client_id = "abcdefghijklmnopqrstuvwx";  // 24 bytes
  feed(encoded(ProtocolVersion::kV5, c));
  EXPECT_EQ(connack_reason(ProtocolVersion::kV5), ReasonCode::kClientIdentifierNotValid);
  EXPECT_TRUE(broker.sessions.empty());
  EXPECT_EQ(broker.stats().client_id_refused, 1u);
}

TEST_F(ClientLimitsTest, AClientIdAtTheLimitIsAccepted) {
  mqtt::Connect c = connect_packet(ProtocolVersion::kV311);
  c.client_id = "abcdefghijklmnopqrstuvw";  // 23 bytes
  feed(encoded(ProtocolVersion::kV311, c));
  EXPECT_EQ(client.phase(), Client::Phase::kConnected);
}

TEST_F(ClientLimitsTest, AV311ClientIdTooLongGetsReturnCode2) {
  mqtt::Connect c = connect_packet(ProtocolVersion::kV311);
  c.client_id = "abcdefghijklmnopqrstuvwx";
  feed(encoded(ProtocolVersion::kV311, c));
  // Decoded back from 3.1.1's return code 2 (identifier rejected).
  EXPECT_EQ(connack_reason(ProtocolVersion::kV311), ReasonCode::kClientIdentifierNotValid);
}

TEST_F(ClientLimitsTest, AUsernameOrPasswordTooLongGetsConnack0x86) {
  const std::string user(33, 'u');
  mqtt::Connect c = connect_packet(ProtocolVersion::kV5);
  c.username = user;
  feed(encoded(ProtocolVersion::kV5, c));
  EXPECT_EQ(connack_reason(ProtocolVersion::kV5), ReasonCode::kBadUserNameOrPassword);
  EXPECT_EQ(broker.stats().credentials_refused, 1u);
}

TEST_F(ClientLimitsTest, APasswordTooLongGetsReturnCode4In311) {
  const std::vector<uint8_t> password(4097, 'p');
  mqtt::Connect c = connect_packet(ProtocolVersion::kV311);
  c.username = "u";
  c.password = mqtt::Bytes(password);
  feed(encoded(ProtocolVersion::kV311, c));
  EXPECT_EQ(connack_reason(ProtocolVersion::kV311), ReasonCode::kBadUserNameOrPassword);
}

TEST_F(ClientLimitsTest, AWillTopicTooDeepGetsConnack0x90) {
  mqtt::Connect c = connect_packet(ProtocolVersion::kV5);
  const uint8_t payload[] = {'x'};
  c.will = mqtt::Will{0, false, "a/b/c/d", mqtt::Bytes(payload), {}};
  feed(encoded(ProtocolVersion::kV5, c));
  EXPECT_EQ(connack_reason(ProtocolVersion::kV5), ReasonCode::kTopicNameInvalid);
  EXPECT_EQ(broker.stats().topic_limit_refused, 1u);
}

TEST_F(ClientLimitsTest, APublishTooDeepOrTooLongIsDisconnectedWith0x90) {
  feed(encoded(ProtocolVersion::kV5, connect_packet(ProtocolVersion::kV5, 60)));
  feed(encoded(ProtocolVersion::kV5, publish_of("a/b/c", 0, 0, false)));  // depth 2: fits
  EXPECT_EQ(broker.published, std::vector<std::string>{"a/b/c"});
  feed(encoded(ProtocolVersion::kV5, publish_of("a/b/c/d", 0, 0, false)));  // depth 3
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<mqtt::Disconnect>(out[1]).reason, ReasonCode::kTopicNameInvalid);
  EXPECT_EQ(broker.published.size(), 1u);
  EXPECT_EQ(broker.stats().topic_limit_refused, 1u);
}

TEST_F(ClientLimitsTest, AV311PublishTooLongClosesTheConnection) {
  feed(encoded(ProtocolVersion::kV311, connect_packet(ProtocolVersion::kV311, 60)));
  const std::string topic(41, 't');
  feed(encoded(ProtocolVersion::kV311, publish_of(topic.c_str(), 1, 3, false)));
  EXPECT_TRUE(sink.closing());
  EXPECT_TRUE(broker.published.empty());
  EXPECT_EQ(packets(ProtocolVersion::kV311, sink.out).size(), 1u);  // the CONNACK only
}

TEST_F(ClientLimitsTest, PacketsPastTheRateAreDisconnectedWith0x96AndTheBucketRefills) {
  feed(encoded(ProtocolVersion::kV5, connect_packet(ProtocolVersion::kV5, 60)));
  for (int i = 0; i < 10; ++i) {  // the burst: one second's worth
    feed(encoded(ProtocolVersion::kV5, mqtt::Pingreq{}));
  }
  sink.now += 100;  // one more packet's credit
  feed(encoded(ProtocolVersion::kV5, mqtt::Pingreq{}));
  EXPECT_FALSE(sink.closing());
  feed(encoded(ProtocolVersion::kV5, mqtt::Pingreq{}));
  EXPECT_TRUE(sink.closing());
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 13u);  // CONNACK, 11 PINGRESP, DISCONNECT
  EXPECT_EQ(std::get<mqtt::Disconnect>(out.back()).reason, ReasonCode::kMessageRateTooHigh);
  EXPECT_EQ(broker.stats().rate_limited, 1u);
}

TEST_F(ClientLimitsTest, AKeepAliveBelowTheMinimumIsRaisedAndToldInConnack) {
  feed(encoded(ProtocolVersion::kV5, connect_packet(ProtocolVersion::kV5, 3)));
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<mqtt::Connack>(out[0]).properties.server_keep_alive, 10);
  EXPECT_EQ(sink.timer_at, sink.now + 15'000);  // timed on the raised one
}

TEST_F(ClientLimitsTest, AKeepAliveOfZeroIsNotRaisedByTheMinimum) {
  feed(encoded(ProtocolVersion::kV5, connect_packet(ProtocolVersion::kV5, 0)));
  const auto out = packets(ProtocolVersion::kV5, sink.out);
  ASSERT_EQ(out.size(), 1u);
  // 0 is "no keep alive": max_keep_alive (60 by default) lowers it, not the minimum.
  EXPECT_EQ(std::get<mqtt::Connack>(out[0]).properties.server_keep_alive, 60);
}

TEST(TopicFit, DepthIsTheCountOfSlashesAndASharedPrefixIsNotCounted) {
  Limits limits;
  limits.max_topic_depth = 2;
  limits.max_topic_length = 20;
  EXPECT_EQ(topic_depth("a/b/c"), 2u);
  EXPECT_EQ(topic_depth("/"), 1u);
  EXPECT_EQ(fit_topic("a/b/c", limits), TopicFit::kFits);
  EXPECT_EQ(fit_topic("a/b/c/", limits), TopicFit::kTooDeep);
  EXPECT_EQ(fit_topic(std::string(21, 'x'), limits), TopicFit::kTooLong);
  EXPECT_EQ(fit_filter("$share/g/a/+/#", limits), TopicFit::kFits);
  EXPECT_EQ(fit_filter("$share/g/a/+/#/", limits), TopicFit::kTooDeep);
  EXPECT_EQ(fit_filter("a/+/#/x", limits), TopicFit::kTooDeep);
  limits.max_topic_depth = 0;
  EXPECT_EQ(fit_topic("a/b/c/d/e/f", limits), TopicFit::kFits);
}

TEST(PacketRate, ABurstThenTheRefillRate) {
  Limits limits;
  limits.max_packets_per_second = 4;
  limits.packet_burst = 2;
  PacketRate rate;
  rate.fill(1000, limits);
  EXPECT_TRUE(rate.take(1000, limits));
  EXPECT_TRUE(rate.take(1000, limits));
  EXPECT_FALSE(rate.take(1000, limits));
  EXPECT_FALSE(rate.take(1249, limits));  // 0.996 of a packet
  EXPECT_TRUE(rate.take(1250, limits));
  EXPECT_TRUE(rate.take(100'000, limits));  // a long pause refills the burst only
  EXPECT_TRUE(rate.take(100'000, limits));
  EXPECT_FALSE(rate.take(100'000, limits));
  limits.packet_burst = 1;  // a reload lowers the burst: credit above it is cut
  EXPECT_TRUE(rate.take(200'000, limits));
  EXPECT_FALSE(rate.take(200'000, limits));
}

}  // namespace
}  // namespace peregrine::broker
