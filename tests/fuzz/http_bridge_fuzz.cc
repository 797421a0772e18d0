// libFuzzer target for the HTTP↔MQTT bridge: the input is what an HTTP client sends,
// cut into feeds by byte 0. A broker stand-in answers every synthesized MQTT packet the
// way the real one would (CONNACK, SUBACK, PUBACK with a reason picked by the input, a
// PUBLISH for each SUBSCRIBE), answers admin calls in the next feed (the admin token is
// "fuzz-admin-token" on half the inputs) and fires the timer between feeds. Checks: the
// bridge only hands the broker admin calls with 1-1000 jti of 1-256 bytes; it only
// ever synthesizes well-formed v5 packets, a CONNECT first and only once, never writes to
// the client after finishing, and every response starts with a status line.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "src/base/assert.h"
#include "src/http/http_bridge.h"
#include "src/mqtt/codec.h"

namespace {

using peregrine::http::AdminToken;
using peregrine::http::BridgeConfig;
using peregrine::http::BridgeSink;
using peregrine::http::HttpBridge;
namespace mqtt = peregrine::mqtt;

class BrokerStandIn final : public BridgeSink {
 public:
  explicit BrokerStandIn(uint8_t reason_seed) : _reason_seed(reason_seed) {}

  void to_client(std::span<const uint8_t> bytes) override {
    PG_ASSERT(!finished);
    client.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void session_host(std::string_view h) override { host = std::string(h); }
  bool serves_host(std::string_view h) const override { return h != "nobody.example"; }
  std::string host;
  void to_protocol(std::span<const uint8_t> bytes) override {
    pending.insert(pending.end(), bytes.begin(), bytes.end());
  }
  void finish() override { finished = true; }
  void arm(uint64_t deadline_ms) override { deadline = deadline_ms; }
  uint64_t now_ms() const override { return now; }
  void refused(int status, const char*) override {
    PG_ASSERT(status >= 400 && status <= 599);
  }
  void admin(const peregrine::http::AdminCall& call) override {
    PG_ASSERT(!_admin_pending);
    using Op = peregrine::http::AdminCall::Op;
    // What the bridge hands on is within its bounds, whatever the request said.
    if (call.op == Op::kRevoke || call.op == Op::kUnrevoke) {
      PG_ASSERT(!call.token_ids.empty() && call.token_ids.size() <= 1000);
      for (const std::string& id : call.token_ids) {
        PG_ASSERT(!id.empty() && id.size() <= 256);
      }
    } else {
      PG_ASSERT(call.token_ids.empty());
    }
    if (call.op == Op::kDeleteKey) {
      PG_ASSERT(!call.key_id.empty() && call.key_id.size() <= 256);
    }
    if (call.op == Op::kIssue) {
      const peregrine::CredentialRequest& c = call.credentials;
      PG_ASSERT(c.number >= 1 && c.number <= peregrine::CredentialRequest::kMaxTokens);
      PG_ASSERT(c.client_ids.empty() || c.client_ids.size() == c.number);
      for (const std::string& id : c.client_ids) {
        PG_ASSERT(!id.empty() && id.size() <= 256 && peregrine::mqtt::valid_utf8(id));
      }
      for (const auto* list : {&c.topic_acl, &c.publish, &c.subscribe}) {
        PG_ASSERT(list->size() <= peregrine::CredentialRequest::kMaxFilters);
        for (const std::string& f : *list) {
          PG_ASSERT(peregrine::mqtt::valid_topic_filter(f));
        }
      }
      PG_ASSERT(c.kid.size() <= 256);
      PG_ASSERT(!c.expires_in_s || (*c.expires_in_s > 0 &&
                                    *c.expires_in_s <= peregrine::http::kMaxExpirationS));
    }
    _admin_pending = true;
  }

  peregrine::http::Readiness readiness() const override {
    // Now and then recovering or draining: SSE, POST and upgrades must be refused.
    switch (_reason_seed % 7) {
      case 0: return {false, false, "draining"};
      case 1: return {false, true, "recovering"};
      default: return {true, false, "ready"};
    }
  }
  void page(peregrine::http::OperatorPage) override {
    PG_ASSERT(!_admin_pending && !_page_pending);
    _page_pending = true;
  }

  // Decodes what the bridge synthesized and answers it (and a pending admin call or page).
  void answer(HttpBridge& bridge) {
    if (_admin_pending) {
      _admin_pending = false;
      bridge.admin_answer(_reason_seed % 2 ? 200 : 409, R"({"success":true})");
    }
    if (_page_pending) {
      _page_pending = false;
      bridge.page_answer(200, "text/plain", "peregrine_ready 1\n");
    }
    std::vector<uint8_t> in;
    in.swap(pending);
    size_t pos = 0;
    while (pos < in.size()) {
      const auto frame = mqtt::read_frame(std::span<const uint8_t>(in).subspan(pos), 1 << 20);
      PG_ASSERT(frame.status == mqtt::FrameStatus::kComplete);
      mqtt::Packet packet;
      const auto body = std::span<const uint8_t>(in).subspan(pos + frame.header.header_length,
                                                             frame.header.remaining_length);
      PG_ASSERT(mqtt::decode(mqtt::ProtocolVersion::kV5, frame.header, body, packet) ==
                mqtt::ReasonCode::kSuccess);
      pos += frame.header.total_length();
      std::vector<uint8_t> out;
      if (std::holds_alternative<mqtt::Connect>(packet)) {
        PG_ASSERT(!_connected);
        _connected = true;
        mqtt::encode(mqtt::ProtocolVersion::kV5, mqtt::Connack{false, pick(kConnackReasons), {}}, out);
      } else if (const auto* sub = std::get_if<mqtt::Subscribe>(&packet)) {
        PG_ASSERT(_connected);
        std::vector<mqtt::ReasonCode> codes(sub->subscriptions.size(), pick(kSubackReasons));
        mqtt::encode(mqtt::ProtocolVersion::kV5, mqtt::Suback{sub->packet_id, {}, codes}, out);
        mqtt::Publish publish;
        publish.topic = "t";
        publish.payload = body.subspan(0, std::min<size_t>(body.size(), 40));
        mqtt::encode(mqtt::ProtocolVersion::kV5, publish, out);
      } else if (const auto* pub = std::get_if<mqtt::Publish>(&packet)) {
        PG_ASSERT(_connected && pub->qos == 1);
        mqtt::encode(mqtt::ProtocolVersion::kV5,
                     mqtt::Ack{mqtt::PacketType::kPuback, pub->packet_id, pick(kPubackReasons), {}}, out);
      }
      if (!out.empty()) {
        bridge.on_protocol_bytes(out);
      }
    }
  }

  std::string client;
  std::vector<uint8_t> pending;
  bool finished = false;
  uint64_t deadline = 0;
  uint64_t now = 1;

 private:
  // Mostly success; now and then a refusal each packet type may carry.
  using R = mqtt::ReasonCode;
  static constexpr R kConnackReasons[] = {R::kSuccess, R::kSuccess, R::kSuccess,
                                          R::kNotAuthorized, R::kBadUserNameOrPassword,
                                          R::kServerBusy, R::kSuccess, R::kBanned};
  static constexpr R kSubackReasons[] = {R::kSuccess, R::kSuccess, R::kSuccess,
                                         R::kNotAuthorized, R::kTopicFilterInvalid,
                                         R::kQuotaExceeded, R::kSuccess, R::kUnspecifiedError};
  static constexpr R kPubackReasons[] = {R::kSuccess, R::kSuccess, R::kNoMatchingSubscribers,
                                         R::kNotAuthorized, R::kTopicNameInvalid,
                                         R::kQuotaExceeded, R::kSuccess,
                                         R::kPayloadFormatInvalid};
  R pick(const R (&table)[8]) {
    _reason_seed = static_cast<uint8_t>(_reason_seed * 37 + 11);
    return table[_reason_seed % 8];
  }
  uint8_t _reason_seed;
  bool _connected = false;
  bool _admin_pending = false;
  bool _page_pending = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const uint8_t control = data[0];
  BridgeConfig config;
  config.serve_api = (control & 1) == 0;
  config.limits.max_head_bytes = (control & 2) ? 256 : 8192;
  config.limits.max_body_bytes = (control & 4) ? 64 : 4096;
  config.max_packet_size = (control & 8) ? 128 : 1 << 20;
  static AdminToken kAdminToken;
  if (kAdminToken.current().empty()) {
    kAdminToken.install("fuzz-admin-token");
  }
  config.admin_token = (control & 16) ? &kAdminToken : nullptr;
  BrokerStandIn sink(control);
  HttpBridge bridge(config, sink);
  const size_t piece = 1 + (control >> 4) * 7;
  std::span<const uint8_t> input(data + 1, size - 1);
  while (!input.empty() && !sink.finished) {
    const size_t take = std::min(piece, input.size());
    std::span<const uint8_t> rest;
    if (bridge.on_client_bytes(input.first(take), &rest)) {
      PG_ASSERT(bridge.upgrade_request() != nullptr);
      break;  // the transport stack takes over from here
    }
    input = input.subspan(take);
    if (sink.readiness().ready && bridge.resume(&rest)) {  // a held request goes on
      PG_ASSERT(bridge.upgrade_request() != nullptr);
      break;
    }
    sink.answer(bridge);
    sink.now += 100;
    if (sink.deadline != 0 && sink.now >= sink.deadline) {
      bridge.on_timer();
      sink.answer(bridge);
    }
  }
  PG_ASSERT(sink.client.empty() || sink.client.rfind("HTTP/1.1 ", 0) == 0);
  return 0;
}
