// The HTTP↔MQTT bridge against a recording sink: the MQTT packets it synthesizes for
// each request (decoded and checked), the HTTP it answers once the "broker" replies, the
// SSE events it writes, its timers, and every refusal with its status.
#include "src/http/http_bridge.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <string_view>
#include <vector>

#include "src/mqtt/codec.h"

namespace peregrine::http {
namespace {

using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class RecordingSink final : public BridgeSink {
 public:
  void to_client(std::span<const uint8_t> bytes) override {
    client.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void session_host(std::string_view h) override { host = std::string(h); }
  bool serves_host(std::string_view h) const override { return h != "nobody.example"; }
  std::string host;
  void to_protocol(std::span<const uint8_t> bytes) override {
    protocol.insert(protocol.end(), bytes.begin(), bytes.end());
  }
  void finish() override { finished = true; }
  void arm(uint64_t deadline_ms) override { deadline = deadline_ms; }
  uint64_t now_ms() const override { return now; }
  void refused(int status, const char*) override { refusals.push_back(status); }
  void admin(const AdminCall& call) override { admin_calls.push_back(call); }
  http::Readiness readiness() const override { return ready; }
  void page(http::OperatorPage page) override { pages.push_back(page); }

  // The MQTT packets synthesized so far, decoded as v5 (consumed).
  std::vector<mqtt::Packet> packets() {
    std::vector<mqtt::Packet> out;
    size_t pos = 0;
    while (pos < protocol.size()) {
      const auto frame = mqtt::read_frame(std::span<const uint8_t>(protocol).subspan(pos),
                                          1 << 20);
      EXPECT_EQ(frame.status, mqtt::FrameStatus::kComplete);
      if (frame.status != mqtt::FrameStatus::kComplete) {
        break;
      }
      mqtt::Packet packet;
      const auto body = std::span<const uint8_t>(protocol).subspan(
          pos + frame.header.header_length, frame.header.remaining_length);
      EXPECT_EQ(mqtt::decode(ProtocolVersion::kV5, frame.header, body, packet),
                ReasonCode::kSuccess);
      out.push_back(packet);
      pos += frame.header.total_length();
    }
    kept.push_back(std::move(protocol));  // decoded views point into it
    protocol.clear();
    return out;
  }

  std::string client;
  std::vector<uint8_t> protocol;
  std::vector<std::vector<uint8_t>> kept;
  std::vector<int> refusals;
  std::vector<AdminCall> admin_calls;
  std::vector<http::OperatorPage> pages;
  http::Readiness ready{true, false, "ready"};
  bool finished = false;
  uint64_t deadline = 0;
  uint64_t now = 1000;
};

std::vector<uint8_t> encode(const mqtt::Packet& packet) {
  std::vector<uint8_t> out;
  mqtt::encode(ProtocolVersion::kV5, packet, out);
  return out;
}

class BridgeTest : public ::testing::Test {
 protected:
  BridgeTest() : bridge(config(), sink) {}
  static BridgeConfig config() {
    BridgeConfig c;
    c.limits.max_body_bytes = 1024;
    c.request_timeout_ms = 500;
    c.idle_timeout_ms = 30'000;
    c.sse_keepalive_ms = 200;
    return c;
  }
  void client(std::string_view text) {
    std::span<const uint8_t> rest;
    EXPECT_FALSE(bridge.on_client_bytes(bytes_of(text), &rest));
  }
  void broker(const mqtt::Packet& packet) { bridge.on_protocol_bytes(encode(packet)); }
  void connack(ReasonCode reason = ReasonCode::kSuccess) {
    broker(mqtt::Connack{false, reason, {}});
  }

  RecordingSink sink;
  HttpBridge bridge;
};

TEST_F(BridgeTest, HealthzIsAnsweredWithoutASession) {
  client("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(sink.client.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(sink.client.find("{\"status\":\"ok\"}"), std::string::npos);
  EXPECT_TRUE(sink.protocol.empty());
  EXPECT_FALSE(sink.finished);
  EXPECT_EQ(sink.deadline, sink.now + 30'000);  // idle timeout armed
}

TEST_F(BridgeTest, ReadyzSaysWhetherTheBrokerTakesTraffic) {
  client("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(sink.client.find("HTTP/1.1 200 OK"), 0u);
  EXPECT_NE(sink.client.find("{\"status\":\"ready\"}"), std::string::npos);
  sink.client.clear();
  sink.ready = {false, false, "draining"};
  client("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(sink.client.find("HTTP/1.1 503 Service Unavailable"), 0u);
  EXPECT_NE(sink.client.find("Retry-After: 1\r\n"), std::string::npos);
  EXPECT_NE(sink.client.find("{\"status\":\"draining\"}"), std::string::npos);
  EXPECT_FALSE(sink.finished);  // an answer, not a refusal: the connection stays
  EXPECT_TRUE(sink.protocol.empty());
}

TEST_F(BridgeTest, DrainingRefusesEventsPostsAndUpgradesWith503) {
  sink.ready = {false, false, "draining"};
  client("POST /events?topic=a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(sink.refusals, std::vector<int>{503});
  EXPECT_NE(sink.client.find("draining"), std::string::npos);
  EXPECT_NE(sink.client.find("Retry-After: 1\r\n"), std::string::npos);
  EXPECT_TRUE(sink.protocol.empty());  // no session was opened

  RecordingSink upgrade_sink;
  upgrade_sink.ready = {false, false, "draining"};
  HttpBridge upgrade(config(), upgrade_sink);
  std::span<const uint8_t> rest;
  EXPECT_FALSE(upgrade.on_client_bytes(
      bytes_of("GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"), &rest));
  EXPECT_EQ(upgrade.upgrade_request(), nullptr);
  EXPECT_EQ(upgrade_sink.refusals, std::vector<int>{503});
}

TEST_F(BridgeTest, StartingHoldsRequestsUntilTheBrokerIsReady) {
  sink.ready = {false, true, "recovering"};
  client("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
         "POST /events?topic=a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
         "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(sink.client.find("HTTP/1.1 503"), 0u);  // /readyz says so at once
  EXPECT_EQ(sink.client.find("{\"status\":\"ok\"}"), std::string::npos);  // behind the POST
  EXPECT_TRUE(sink.protocol.empty());
  EXPECT_TRUE(sink.refusals.empty());
  std::span<const uint8_t> rest;
  sink.ready = {true, false, "ready"};
  EXPECT_FALSE(bridge.resume(&rest));
  auto packets = sink.packets();
  ASSERT_EQ(packets.size(), 2u);  // CONNECT, then the PUBLISH
  EXPECT_EQ(std::get<mqtt::Publish>(packets[1]).topic, "a");
  EXPECT_FALSE(bridge.resume(&rest));  // nothing held any more

  RecordingSink upgrade_sink;
  upgrade_sink.ready = {false, true, "recovering"};
  HttpBridge upgrade(config(), upgrade_sink);
  EXPECT_FALSE(upgrade.on_client_bytes(
      bytes_of("GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n\x82\x80"), &rest));
  EXPECT_EQ(upgrade.upgrade_request(), nullptr);
  upgrade_sink.ready = {true, false, "ready"};
  ASSERT_TRUE(upgrade.resume(&rest));
  ASSERT_NE(upgrade.upgrade_request(), nullptr);
  EXPECT_EQ(std::string(rest.begin(), rest.end()), "\x82\x80");
  EXPECT_TRUE(upgrade_sink.refusals.empty());
}

TEST_F(BridgeTest, PagesAreAskedOfTheBrokerAndAnsweredWithTheirType) {
  client("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(sink.pages, std::vector<OperatorPage>{OperatorPage::kMetrics});
  EXPECT_TRUE(sink.client.empty());  // the next request waits for this answer
  bridge.page_answer(200, "text/plain; version=0.0.4", "peregrine_ready 1\n");
  EXPECT_EQ(sink.client.find("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                             "Content-Length: 18\r\n"),
            0u);
  EXPECT_NE(sink.client.find("Cache-Control: no-store\r\n"), std::string::npos);
  EXPECT_NE(sink.client.find("\r\n\r\nperegrine_ready 1\n"), std::string::npos);
  EXPECT_NE(sink.client.find("{\"status\":\"ok\"}"), std::string::npos);  // then /healthz
  bridge.page_answer(200, "text/plain", "late");  // none awaited: ignored
  EXPECT_EQ(sink.client.find("late"), std::string::npos);

  client("GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(sink.pages.back(), OperatorPage::kStatus);
}

TEST_F(BridgeTest, PostBecomesConnectAndQos1PublishAnsweredOnPuback) {
  client("POST /events?topic=a/b&retain=true&ttl=30 HTTP/1.1\r\nHost: x\r\n"
         "Content-Length: 5\r\n\r\nhello");
  auto packets = sink.packets();
  ASSERT_EQ(packets.size(), 2u);
  const auto& connect = std::get<mqtt::Connect>(packets[0]);
  EXPECT_EQ(connect.version, ProtocolVersion::kV5);
  EXPECT_TRUE(connect.client_id.empty());
  EXPECT_FALSE(connect.password.has_value());
  const auto& publish = std::get<mqtt::Publish>(packets[1]);
  EXPECT_EQ(publish.topic, "a/b");
  EXPECT_EQ(publish.qos, 1);
  EXPECT_TRUE(publish.retain);
  EXPECT_EQ(publish.properties.message_expiry_interval, 30u);
  EXPECT_EQ(std::string(publish.payload.begin(), publish.payload.end()), "hello");
  EXPECT_TRUE(sink.client.empty());  // nothing until the PUBACK
  connack();
  broker(mqtt::Ack{mqtt::PacketType::kPuback, publish.packet_id, ReasonCode::kNoMatchingSubscribers, {}});
  EXPECT_NE(sink.client.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_FALSE(sink.finished);
}

TEST_F(BridgeTest, PipelinedPostsWaitForEachPuback) {
  client("POST /events?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1"
         "POST /events?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n2");
  auto packets = sink.packets();
  ASSERT_EQ(packets.size(), 2u);  // CONNECT + the first PUBLISH only
  connack();
  broker(mqtt::Ack{mqtt::PacketType::kPuback, std::get<mqtt::Publish>(packets[1]).packet_id,
                   ReasonCode::kSuccess, {}});
  packets = sink.packets();
  ASSERT_EQ(packets.size(), 1u);  // the second PUBLISH, same session
  const auto& second = std::get<mqtt::Publish>(packets[0]);
  EXPECT_EQ(std::string(second.payload.begin(), second.payload.end()), "2");
  broker(mqtt::Ack{mqtt::PacketType::kPuback, second.packet_id, ReasonCode::kSuccess, {}});
  size_t oks = 0;
  for (size_t at = 0; (at = sink.client.find("200 OK", at)) != std::string::npos; ++at) {
    ++oks;
  }
  EXPECT_EQ(oks, 2u);
}

TEST_F(BridgeTest, RefusedPublishMapsReasonToStatus) {
  client("POST /events?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx");
  auto packets = sink.packets();
  broker(mqtt::Ack{mqtt::PacketType::kPuback, std::get<mqtt::Publish>(packets[1]).packet_id,
                   ReasonCode::kNotAuthorized, {}});
  EXPECT_NE(sink.client.find("HTTP/1.1 403 Forbidden"), std::string::npos);
  EXPECT_TRUE(sink.finished);
  EXPECT_EQ(sink.refusals, std::vector<int>{403});
}

TEST_F(BridgeTest, EventsSubscribeAndStream) {
  client("GET /events?topic=a&topic=b/%2B HTTP/1.1\r\nHost: x\r\n"
         "Authorization: Bearer aaa.bbb.ccc\r\n\r\n");
  auto packets = sink.packets();
  ASSERT_EQ(packets.size(), 2u);
  const auto& connect = std::get<mqtt::Connect>(packets[0]);
  ASSERT_TRUE(connect.password.has_value());
  EXPECT_EQ(std::string(connect.password->begin(), connect.password->end()), "aaa.bbb.ccc");
  const auto& subscribe = std::get<mqtt::Subscribe>(packets[1]);
  ASSERT_EQ(subscribe.subscriptions.size(), 2u);
  EXPECT_EQ(subscribe.subscriptions[1].filter, "b/+");
  EXPECT_EQ(subscribe.subscriptions[0].retain_handling, 2);  // not durable
  connack();
  // A retained message before SUBACK waits for the response head.
  mqtt::Publish early;
  early.topic = "a";
  early.retain = true;
  const std::string early_text = "early";
  early.payload = bytes_of(early_text);
  broker(early);
  EXPECT_TRUE(sink.client.empty());
  broker(mqtt::Suback{subscribe.packet_id, {}, {ReasonCode::kSuccess, ReasonCode::kSuccess}});
  EXPECT_EQ(sink.client.find("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"), 0u);
  EXPECT_NE(sink.client.find("event: message\nid: "), std::string::npos);
  EXPECT_NE(sink.client.find("data: early\n\n"), std::string::npos);
  sink.client.clear();
  mqtt::Publish binary;
  binary.topic = "b/c";
  const uint8_t raw[] = {0x00, 0xFF, 0x10};
  binary.payload = raw;
  broker(binary);
  EXPECT_EQ(sink.client, "event: message-base64\nid: " +
                             HttpBridge::event_id("b/c", raw) + "\ndata: AP8Q\n\n");
  sink.client.clear();
  mqtt::Publish lines;
  lines.topic = "a";
  const std::string text = "one\r\ntwo\nthree";
  lines.payload = bytes_of(text);
  broker(lines);
  EXPECT_NE(sink.client.find("data: one\ndata: two\ndata: three\n\n"), std::string::npos);
  // Keep-alive: a comment for the client and a PINGREQ for the MQTT keep alive.
  sink.client.clear();
  sink.now += 250;
  bridge.on_timer();
  EXPECT_EQ(sink.client, ": keepalive\n\n");
  auto pings = sink.packets();
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<mqtt::Pingreq>(pings[0]));
  EXPECT_EQ(sink.deadline, sink.now + 200);
}

TEST_F(BridgeTest, DurableAndResumedStreamsAskForRetained) {
  const std::string id = HttpBridge::event_id("a", bytes_of("seen"));
  client("GET /events?topic=a HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + id + "\r\n\r\n");
  auto packets = sink.packets();
  const auto& subscribe = std::get<mqtt::Subscribe>(packets[1]);
  EXPECT_EQ(subscribe.subscriptions[0].retain_handling, 0);
  connack();
  broker(mqtt::Suback{subscribe.packet_id, {}, {ReasonCode::kSuccess}});
  sink.client.clear();
  mqtt::Publish seen;
  seen.topic = "a";
  seen.retain = true;
  seen.payload = bytes_of("seen");
  broker(seen);
  EXPECT_TRUE(sink.client.empty());  // the retained message the client already had
  mqtt::Publish fresh = seen;
  fresh.payload = bytes_of("fresh");
  broker(fresh);
  EXPECT_NE(sink.client.find("data: fresh"), std::string::npos);
}

TEST_F(BridgeTest, DeniedSubscriptionIs403) {
  client("GET /events?topic=secret HTTP/1.1\r\nHost: x\r\n\r\n");
  auto packets = sink.packets();
  connack();
  broker(mqtt::Suback{std::get<mqtt::Subscribe>(packets[1]).packet_id, {},
                      {ReasonCode::kNotAuthorized}});
  EXPECT_EQ(sink.client.find("HTTP/1.1 403"), 0u);
  EXPECT_TRUE(sink.finished);
}

struct Refusal {
  std::string request;
  int status;
};

class BridgeRefusalTest : public BridgeTest, public ::testing::WithParamInterface<Refusal> {};

TEST_P(BridgeRefusalTest, AnswersWithStatusAndJsonThenCloses) {
  client(GetParam().request);
  EXPECT_EQ(sink.client.find("HTTP/1.1 " + std::to_string(GetParam().status)), 0u)
      << sink.client;
  EXPECT_NE(sink.client.find("{\"error\":"), std::string::npos);
  EXPECT_TRUE(sink.finished);
  EXPECT_EQ(sink.refusals, std::vector<int>{GetParam().status});
  EXPECT_TRUE(sink.protocol.empty());  // no MQTT session for a refused request
}

INSTANTIATE_TEST_SUITE_P(
    Table, BridgeRefusalTest,
    ::testing::Values(
        Refusal{"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        Refusal{"PUT /events?topic=a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
        Refusal{"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
        Refusal{"POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
        Refusal{"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        Refusal{"GET /events HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        Refusal{"GET /events?topic=a/%23/b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        Refusal{"POST /events?topic=a/%2B HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400},
        Refusal{"POST /events?topic=a&ttl=-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                400},
        Refusal{"POST /events?topic=a HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n", 413},
        Refusal{"POST /events?topic=a HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eA==\r\n"
                "Content-Length: 0\r\n\r\n", 401},
        Refusal{"GET /events?topic=a&auth=a.b HTTP/1.1\r\nHost: x\r\n\r\n", 401},
        Refusal{"GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(9000, 'a') + "\r\n\r\n", 431},
        Refusal{"GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n", 505}));

TEST_F(BridgeTest, SlowRequestTimesOutIdleConnectionCloses) {
  client("GET /healthz HTTP/1.1\r\n");
  EXPECT_EQ(sink.deadline, sink.now + 500);
  sink.now += 600;
  bridge.on_timer();
  EXPECT_EQ(sink.client.find("HTTP/1.1 408"), 0u);
  EXPECT_TRUE(sink.finished);

  RecordingSink idle_sink;
  HttpBridge idle(config(), idle_sink);
  std::span<const uint8_t> rest;
  idle.on_client_bytes(bytes_of("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), &rest);
  idle_sink.now += 30'000;
  idle.on_timer();
  EXPECT_TRUE(idle_sink.finished);
  EXPECT_TRUE(idle_sink.refusals.empty());  // a quiet close, not an error
}

TEST_F(BridgeTest, UpgradeIsHandedBackWithTheBytesAfterIt) {
  std::span<const uint8_t> rest;
  ASSERT_TRUE(bridge.on_client_bytes(
      bytes_of("GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n\x82\x80"), &rest));
  ASSERT_NE(bridge.upgrade_request(), nullptr);
  EXPECT_EQ(bridge.upgrade_request()->path, "/mqtt");
  EXPECT_EQ(std::string(rest.begin(), rest.end()), "\x82\x80");
}

TEST_F(BridgeTest, UpgradeAfterAnotherRequestIsRefused) {
  client("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_EQ(sink.refusals, std::vector<int>{400});
}

TEST(BridgeWsOnly, AnswersOnlyTheUpgrade) {
  RecordingSink sink;
  BridgeConfig config;
  config.serve_api = false;
  HttpBridge bridge(config, sink);
  std::span<const uint8_t> rest;
  EXPECT_FALSE(bridge.on_client_bytes(bytes_of("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
                                      &rest));
  EXPECT_EQ(sink.refusals, std::vector<int>{404});
}

TEST(BridgeEventId, StableAndDistinct) {
  EXPECT_EQ(HttpBridge::event_id("a", bytes_of("x")), HttpBridge::event_id("a", bytes_of("x")));
  EXPECT_NE(HttpBridge::event_id("a", bytes_of("x")), HttpBridge::event_id("a", bytes_of("y")));
  EXPECT_NE(HttpBridge::event_id("ax", bytes_of("")), HttpBridge::event_id("a", bytes_of("x")));
  EXPECT_EQ(HttpBridge::event_id("a", bytes_of("x")).size(), 16u);
}

// An admin token installed as main does at start.
struct InstalledToken {
  explicit InstalledToken(std::string text) { slot.install(std::move(text)); }
  AdminToken slot;
};

TEST(HttpBridgeAdmin, AuthenticatesParsesAndWaitsForTheAnswer) {
  const std::string token = "admin-secret-0123456789";
  InstalledToken installed(token);
  BridgeConfig config;
  config.admin_token = &installed.slot;
  RecordingSink sink;
  HttpBridge bridge(config, sink);
  std::span<const uint8_t> rest;
  const std::string auth = "Authorization: Bearer " + token + "\r\n";
  bridge.on_client_bytes(bytes_of("POST /admin/revocations?jti=a&jti=b HTTP/1.1\r\nHost: x\r\n" + auth +
                                  "Content-Length: 0\r\n\r\n"
                                  "GET /admin/revocations HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n"),
                         &rest);
  ASSERT_EQ(sink.admin_calls.size(), 1u) << sink.client;  // the second waits for the first's answer
  EXPECT_EQ(sink.admin_calls[0].op, AdminCall::Op::kRevoke);
  EXPECT_EQ(sink.admin_calls[0].token_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(sink.client.empty());
  bridge.admin_answer(200, R"({"success":true,"result":["a","b"]})");
  EXPECT_NE(sink.client.find("HTTP/1.1 200"), std::string::npos) << sink.client;
  ASSERT_EQ(sink.admin_calls.size(), 2u);
  EXPECT_EQ(sink.admin_calls[1].op, AdminCall::Op::kListRevocations);
  bridge.admin_answer(200, R"({"success":true,"result":[]})");
  EXPECT_FALSE(sink.finished);  // kept alive
  bridge.admin_answer(500, "{}");  // none pending: ignored
}

// Virtual brokers: wrangler pubsub's verbs as paths and methods, names from the path or
// `name=`, fields from the query; anything else refused before the broker sees it.
TEST(HttpBridgeAdmin, ParsesNamespaceAndBrokerCalls) {
  const std::string token = "admin-secret-0123456789";
  InstalledToken installed(token);
  const std::string auth = "Authorization: Bearer " + token + "\r\n";
  using Op = AdminCall::Op;
  // One request on a fresh bridge: what its sink saw.
  const auto send = [&](const std::string& line) {
    BridgeConfig config;
    config.admin_token = &installed.slot;
    auto sink = std::make_unique<RecordingSink>();
    HttpBridge bridge(config, *sink);
    std::span<const uint8_t> rest;
    bridge.on_client_bytes(
        bytes_of(line + " HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 0\r\n\r\n"), &rest);
    return sink;
  };
  struct Case {
    std::string line;
    Op op;
    std::string ns;
    std::string broker;
  };
  for (const Case& c : std::vector<Case>{
           {"GET /admin/namespaces", Op::kListNamespaces, "", ""},
           {"POST /admin/namespaces?name=acme&description=d", Op::kCreateNamespace, "acme", ""},
           {"GET /admin/namespaces/acme", Op::kDescribeNamespace, "acme", ""},
           {"DELETE /admin/namespaces/acme", Op::kDeleteNamespace, "acme", ""},
           {"GET /admin/namespaces/acme/brokers", Op::kListBrokers, "acme", ""},
           {"POST /admin/namespaces/acme/brokers?name=b&hostname=h.example&hostname=*.x",
            Op::kCreateBroker, "acme", "b"},
           {"GET /admin/namespaces/acme/brokers/b", Op::kDescribeBroker, "acme", "b"},
           {"PATCH /admin/namespaces/acme/brokers/b?hostname=", Op::kUpdateBroker, "acme", "b"},
           {"DELETE /admin/namespaces/acme/brokers/b", Op::kDeleteBroker, "acme", "b"}}) {
    const auto sink = send(c.line);
    ASSERT_EQ(sink->admin_calls.size(), 1u) << c.line << " " << sink->client;
    const AdminCall& call = sink->admin_calls[0];
    EXPECT_EQ(call.op, c.op) << c.line;
    EXPECT_EQ(call.namespace_name, c.ns) << c.line;
    EXPECT_EQ(call.broker_name, c.broker) << c.line;
    if (c.op == Op::kCreateBroker) {
      EXPECT_EQ(call.hostnames, (std::vector<std::string>{"h.example", "*.x"}));
    }
    if (c.op == Op::kUpdateBroker) {
      ASSERT_TRUE(call.hostnames.has_value());  // `hostname=` alone: clear them
      EXPECT_TRUE(call.hostnames->empty());
      EXPECT_FALSE(call.description.has_value());
    }
    if (c.op == Op::kCreateNamespace) {
      EXPECT_EQ(call.description, std::optional<std::string>("d"));
    }
  }
  for (const auto& [line, status] : std::vector<std::pair<std::string, int>>{
           {"PUT /admin/namespaces", 405},
           {"PATCH /admin/namespaces/acme", 405},
           {"POST /admin/namespaces", 400},                       // no name
           {"GET /admin/namespaces?name=x", 400},                  // name only to create
           {"GET /admin/namespaces/acme/brokers?hostname=h", 400},  // hostname only to write
           {"POST /admin/namespaces/acme/brokers?name=b&color=red", 400},
           {"GET /admin/namespaces/acme/other", 404},
           {"GET /admin/namespaces//brokers", 404}}) {
    const auto sink = send(line);
    EXPECT_TRUE(sink->admin_calls.empty()) << line;
    EXPECT_NE(sink->client.find("HTTP/1.1 " + std::to_string(status)), std::string::npos)
        << line << " " << sink->client;
  }
}

TEST(HttpBridgeAdmin, RefusesWithoutItsTokenOrOffItsListeners) {
  const std::string token = "admin-secret-0123456789";
  InstalledToken installed(token);
  for (const std::string request :
       {"GET /admin/revocations HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /admin/revocations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin-secret-012345678\r\n\r\n",
        "GET /admin/revocations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin-secret-0123456789x\r\n\r\n",
        "GET /admin/revocations HTTP/1.1\r\nHost: x\r\nAuthorization: bearer admin-secret-0123456789\r\n\r\n"}) {
    BridgeConfig config;
    config.admin_token = &installed.slot;
    RecordingSink sink;
    HttpBridge bridge(config, sink);
    std::span<const uint8_t> rest;
    bridge.on_client_bytes(bytes_of(request), &rest);
    EXPECT_TRUE(sink.admin_calls.empty()) << request;
    EXPECT_NE(sink.client.find("HTTP/1.1 401"), std::string::npos) << sink.client;
    EXPECT_NE(sink.client.find(R"("code":10001)"), std::string::npos) << sink.client;
  }
  struct Case {
    std::string request;
    int status;
  };
  const std::string auth = "Authorization: Bearer " + token + "\r\n";
  for (const Case& c : {Case{"POST /admin/revocations HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 400},
                        Case{"DELETE /admin/revocations?jti= HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 400},
                        Case{"PUT /admin/revocations?jti=a HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 405},
                        Case{"GET /admin/nokeys HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 404}}) {
    BridgeConfig config;
    config.admin_token = &installed.slot;
    RecordingSink sink;
    HttpBridge bridge(config, sink);
    std::span<const uint8_t> rest;
    bridge.on_client_bytes(bytes_of(c.request), &rest);
    EXPECT_TRUE(sink.admin_calls.empty()) << c.request;
    EXPECT_EQ(sink.client.substr(0, 12), "HTTP/1.1 " + std::to_string(c.status)) << c.request;
  }
  BridgeConfig off;  // no admin token: this listener has no admin API
  RecordingSink sink;
  HttpBridge bridge(off, sink);
  std::span<const uint8_t> rest;
  bridge.on_client_bytes(bytes_of("GET /admin/revocations HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n"), &rest);
  EXPECT_EQ(sink.client.substr(0, 12), "HTTP/1.1 404");
}

// A reload installs a new token: a kept-alive connection is held to it from its next
// request on, and the old one is refused; before any install nothing is accepted.
TEST(HttpBridgeAdmin, ARotatedTokenHoldsForLiveConnections) {
  AdminToken slot;
  BridgeConfig config;
  config.admin_token = &slot;
  RecordingSink sink;
  HttpBridge bridge(config, sink);
  std::span<const uint8_t> rest;
  const auto ask = [&](const std::string& token) {
    sink.client.clear();
    bridge.on_client_bytes(bytes_of("GET /admin/revocations HTTP/1.1\r\nHost: x\r\n"
                                    "Authorization: Bearer " + token + "\r\n\r\n"),
                           &rest);
    if (!sink.admin_calls.empty()) {
      sink.admin_calls.clear();
      bridge.admin_answer(200, R"({"success":true,"result":[]})");
      return 200;
    }
    return std::stoi(sink.client.substr(9, 3));
  };
  EXPECT_EQ(ask(""), 401);  // nothing installed: even an empty bearer is refused
  EXPECT_TRUE(slot.install("first-token-0123456789"));
  EXPECT_FALSE(slot.install("first-token-0123456789"));  // unchanged
  EXPECT_EQ(ask("first-token-0123456789"), 200);
  EXPECT_TRUE(slot.install("second-token-0123456789"));
  EXPECT_EQ(ask("first-token-0123456789"), 401);
  EXPECT_EQ(ask("second-token-0123456789"), 200);
  EXPECT_FALSE(sink.finished);  // one keep-alive connection throughout
}

// One admin request through a fresh bridge: the call it made, or the refusal it sent.
struct AdminOutcome {
  std::optional<AdminCall> call;
  std::string client;
};

AdminOutcome admin_request(const std::string& method, const std::string& target) {
  static InstalledToken installed("admin-secret-0123456789");
  BridgeConfig config;
  config.admin_token = &installed.slot;
  RecordingSink sink;
  HttpBridge bridge(config, sink);
  std::span<const uint8_t> rest;
  bridge.on_client_bytes(bytes_of(method + " " + target + " HTTP/1.1\r\nHost: x\r\n" +
                                  "Authorization: Bearer " + std::string(installed.slot.current()) + "\r\n\r\n"),
                         &rest);
  AdminOutcome out;
  if (!sink.admin_calls.empty()) {
    out.call = sink.admin_calls[0];
  }
  out.client = sink.client;
  return out;
}

TEST(HttpBridgeAdmin, KeysAndPublicKeys) {
  EXPECT_EQ(admin_request("GET", "/admin/keys").call->op, AdminCall::Op::kListKeys);
  EXPECT_EQ(admin_request("POST", "/admin/keys").call->op, AdminCall::Op::kCreateKey);
  const AdminOutcome deleted = admin_request("DELETE", "/admin/keys?kid=abc%2Fd");
  ASSERT_TRUE(deleted.call);
  EXPECT_EQ(deleted.call->op, AdminCall::Op::kDeleteKey);
  EXPECT_EQ(deleted.call->key_id, "abc/d");
  EXPECT_EQ(admin_request("GET", "/admin/publickeys").call->op, AdminCall::Op::kPublicKeys);
  for (const auto& [method, target, status] :
       std::vector<std::tuple<std::string, std::string, int>>{
           {"DELETE", "/admin/keys", 400},
           {"DELETE", "/admin/keys?kid=a&kid=b", 400},
           {"DELETE", "/admin/keys?kid=", 400},
           {"PUT", "/admin/keys", 405},
           {"POST", "/admin/publickeys", 405},
           {"DELETE", "/admin/credentials", 405}}) {
    const AdminOutcome out = admin_request(method, target);
    EXPECT_FALSE(out.call) << target;
    EXPECT_EQ(out.client.substr(0, 12), "HTTP/1.1 " + std::to_string(status)) << method << target;
  }
}

TEST(HttpBridgeAdmin, CredentialRequestsAsCloudflareAsksThem) {
  // Cloudflare's own query: number, type, topicAcl.
  AdminOutcome out = admin_request("GET", "/admin/credentials?number=2&type=TOKEN&topicAcl=%23");
  ASSERT_TRUE(out.call) << out.client;
  EXPECT_EQ(out.call->op, AdminCall::Op::kIssue);
  EXPECT_EQ(out.call->credentials.number, 2u);
  EXPECT_EQ(out.call->credentials.topic_acl, (std::vector<std::string>{"#"}));
  EXPECT_FALSE(out.call->credentials.expires_in_s);
  out = admin_request("POST",
                      "/admin/credentials?clientid=a&clientid=b&expiration=48h&pub=x/%2B&sub=y/%23"
                      "&kid=k1");
  ASSERT_TRUE(out.call) << out.client;
  const CredentialRequest& c = out.call->credentials;
  EXPECT_EQ(c.number, 2u);
  EXPECT_EQ(c.client_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.expires_in_s, 48 * 3600);
  EXPECT_EQ(c.publish, (std::vector<std::string>{"x/+"}));
  EXPECT_EQ(c.subscribe, (std::vector<std::string>{"y/#"}));
  EXPECT_EQ(c.kid, "k1");
  std::string hundred = "/admin/credentials?number=100";
  EXPECT_TRUE(admin_request("GET", hundred).call);
  std::string ids = "/admin/credentials?";
  for (int i = 0; i < 101; i++) {
    ids += "clientid=c" + std::to_string(i) + "&";
  }
  for (const std::string& target :
       {std::string("/admin/credentials?number=0"), std::string("/admin/credentials?number=101"),
        std::string("/admin/credentials?number=2x"), std::string("/admin/credentials?number=1&number=2"),
        std::string("/admin/credentials?number=3&clientid=a"),
        std::string("/admin/credentials?clientid=a&clientid=a"),
        std::string("/admin/credentials?clientid="), std::string("/admin/credentials?clientid=%FF"),
        std::string("/admin/credentials?type=PASSWORD"),
        std::string("/admin/credentials?expiration=0"),
        std::string("/admin/credentials?expiration=1y"),
        std::string("/admin/credentials?topicAcl=a/%23/b"),
        std::string("/admin/credentials?pub=a%2Bb"), std::string("/admin/credentials?kid="),
        std::string("/admin/credentials?numbr=2"), ids}) {
    const AdminOutcome refused = admin_request("GET", target);
    EXPECT_FALSE(refused.call) << target;
    EXPECT_EQ(refused.client.substr(0, 12), "HTTP/1.1 400") << target;
    EXPECT_NE(refused.client.find(R"("code":10021)"), std::string::npos) << refused.client;
  }
}

TEST(AdminCall, ExpirationsAsWranglerWritesThem) {
  std::optional<int64_t> out;
  for (const auto& [text, seconds] : std::vector<std::pair<const char*, int64_t>>{
           {"3600", 3600}, {"90s", 90}, {"15m", 900}, {"48h", 172800}, {"7d", 604800},
           {"2w", 1209600}, {"36500d", 36500LL * 86400}}) {
    ASSERT_TRUE(parse_expiration(text, out)) << text;
    EXPECT_EQ(out, seconds) << text;
  }
  ASSERT_TRUE(parse_expiration("-1", out));
  EXPECT_FALSE(out);  // no expiry
  for (const char* bad : {"", "0", "0h", "h", "-2", "1.5h", "1 h", "1H", "99999999999999",
                          "36601d", "+5", "5x"}) {
    EXPECT_FALSE(parse_expiration(bad, out)) << bad;
  }
}

}  // namespace
}  // namespace peregrine::http
