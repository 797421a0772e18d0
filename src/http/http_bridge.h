// Fastly's HTTP surface on http:// and https:// listeners, as a translator between HTTP
// and the MQTT protocol layer above it: `GET /events` becomes an MQTT v5 session that
// subscribes and whose PUBLISH packets leave as Server-Sent Events; `POST /events`
// becomes a QoS 1 PUBLISH answered when its PUBACK comes back; `GET /healthz` and
// `/readyz` are answered here, `/metrics` and `/status` by the broker (operator_pages.h);
// a WebSocket upgrade on the MQTT path is handed back to the transport
// stack. The MQTT layer never knows: it sees an ordinary v5 client.
//
// Pure and single-threaded: bytes in from the client and from the MQTT layer, bytes out
// through a BridgeSink, a deadline for its one timer. Owned by its connection's
// transport stack, on the shard that owns the connection. Bounded: one request at a time
// (pipelined bytes wait, up to the head and body limits), MQTT output parsed one packet
// at a time up to the maximum packet size.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/http/admin_call.h"
#include "src/http/admin_token.h"
#include "src/http/operator_pages.h"
#include "src/http/request_parser.h"

namespace peregrine::http {

struct BridgeConfig {
  // false: a ws(s):// listener, which answers only the WebSocket upgrade.
  bool serve_api = true;
  ParserLimits limits;
  std::string websocket_path = "/mqtt";
  uint32_t request_timeout_ms = 10'000;  // a started request must be whole by then
  uint32_t idle_timeout_ms = 60'000;     // keep-alive between requests (MQTT keep alive)
  uint32_t sse_keepalive_ms = 15'000;    // comment lines on a quiet event stream
  uint32_t max_packet_size = 1 << 20;    // of the MQTT output it parses
  // The admin API (/admin/...): served when set, to requests that carry its current
  // token as a bearer token (compared in constant time); nullptr: 404 on this listener.
  // Owned by main, outlives every bridge.
  const AdminToken* admin_token = nullptr;
  // Browser origins allowed across origins (CORS; "*": any); a page of another origin
  // that is neither listed nor this listener's own is refused (403).
  std::vector<std::string> allowed_origins;
};

// Where the bridge's output goes; implemented by the transport stack.
class BridgeSink {
 public:
  virtual ~BridgeSink() = default;
  // HTTP bytes for the client.
  virtual void to_client(std::span<const uint8_t> bytes) = 0;
  // MQTT bytes for the protocol layer, as if the client had sent them.
  virtual void to_protocol(std::span<const uint8_t> bytes) = 0;
  // The Host the request that opens the MQTT session named (its virtual broker's, chosen
  // at that session's CONNECT); said just before that CONNECT goes to the protocol.
  virtual void session_host(std::string_view host) = 0;
  // Whether `host` names a virtual broker this connection may reach, or the broker takes
  // connections that name none (false: SSE and POST get 421 Misdirected Request).
  virtual bool serves_host(std::string_view host) const = 0;
  // The response is written and the connection must close once it is flushed.
  virtual void finish() = 0;
  // (Re)arms the bridge's timer for `deadline_ms` (0: cancel).
  virtual void arm(uint64_t deadline_ms) = 0;
  virtual uint64_t now_ms() const = 0;
  // A request was refused with an HTTP error (for counters and debug logs).
  virtual void refused(int status, const char* why) = 0;
  // An authenticated admin API call for the broker; its answer comes back through
  // HttpBridge::admin_answer() (now or in a later turn). Nothing else is read meanwhile.
  virtual void admin(const AdminCall& call) = 0;
  // Whether the broker takes traffic now (/readyz; while not, SSE, POST and WebSocket
  // upgrades are refused with 503).
  virtual Readiness readiness() const = 0;
  // An operator's page for the broker to make; its answer comes back through
  // HttpBridge::page_answer() in a later turn. Nothing else is read meanwhile.
  virtual void page(OperatorPage page) = 0;
};

class HttpBridge {
 public:
  HttpBridge(const BridgeConfig& config, BridgeSink& sink);
  ~HttpBridge();

  // Bytes from the client. On a WebSocket upgrade of the MQTT path, returns true with
  // the request in upgrade_request() and the bytes after it in `rest`: the caller
  // switches to WebSocket and the bridge is done.
  bool on_client_bytes(std::span<const uint8_t> bytes, std::span<const uint8_t>* rest);
  const Request* upgrade_request() const { return _upgrade.get(); }
  // The broker is ready: a request held while it started (Readiness::starting) is
  // dispatched now. Returns as on_client_bytes() does when it is an upgrade.
  bool resume(std::span<const uint8_t>* rest);
  // Bytes the MQTT layer wrote.
  void on_protocol_bytes(std::span<const uint8_t> bytes);
  void on_timer();
  // The broker's answer to the admin call in progress (ignored if none is).
  void admin_answer(int status, std::string_view json_body);
  // The broker's page asked for (ignored if none is awaited).
  void page_answer(int status, std::string_view content_type, std::string_view body);

  // The SSE event id of a message: stable for the same topic and payload, so that a
  // stream resumed with Last-Event-ID skips the retained message it already had.
  static std::string event_id(std::string_view topic, std::span<const uint8_t> payload);

 private:
  enum class Stage : uint8_t {
    kReading,        // parsing the next request
    kAwaitSubscribe,  // GET /events sent SUBSCRIBE; SUBACK pending
    kStreaming,      // SSE events flow until the connection ends
    kAwaitPuback,    // POST /events sent PUBLISH; PUBACK pending
    kAwaitAdmin,     // an admin call is with the broker
    kAwaitPage,      // an operator's page is with the broker
    kAwaitReady,     // a request for the broker waits for it to finish starting
    kDone,           // a response that ends the connection was written
  };

  void parse_pending();
  void dispatch(const Request& request);
  void start_events(const Request& request);
  void start_publish(const Request& request);
  void start_admin(const Request& request);
  void admin_refuse(int status, int code, const std::string& message);
  static bool parse_credential_request(const Request& request, CredentialRequest& out,
                                       std::string& why);
  // /admin/namespaces...: the call's op and fields; false with the HTTP status and why.
  static bool parse_tenant_call(const Request& request, AdminCall& call, int& status,
                                std::string& why);
  bool ensure_session(const Request& request);
  void on_mqtt_packet(uint8_t first_byte, std::span<const uint8_t> body);
  void on_connack(std::span<const uint8_t> body);
  void on_suback(std::span<const uint8_t> body);
  void on_puback(std::span<const uint8_t> body);
  void on_publish(uint8_t flags, std::span<const uint8_t> body);
  void on_disconnect(std::span<const uint8_t> body);
  void send_event(std::string_view topic, std::span<const uint8_t> payload, bool retained);
  void respond(int status, std::string_view json_body, bool keep_alive);
  void respond_typed(int status, std::string_view content_type, std::string_view body,
                     bool keep_alive, std::string_view extra_headers = {});
  void start_page(const Request& request, OperatorPage page);
  void fail(int status, const char* why);
  void request_done(bool keep_alive);
  void arm_request_timer();

  BridgeConfig _config;
  BridgeSink& _sink;
  RequestParser _parser;
  std::vector<uint8_t> _pending;    // client bytes not yet parsed (one request at a time)
  std::vector<uint8_t> _from_mqtt;  // an MQTT packet from the protocol layer, partial
  std::unique_ptr<Request> _upgrade;
  std::unique_ptr<Request> _held;  // kAwaitReady: the request that waits
  // Whether a request needing the broker may go on now: true, or held (false, stage
  // kAwaitReady), or refused with 503 (false, done).
  bool broker_ready(const Request& request);
  Stage _stage = Stage::kReading;
  bool _session = false;       // the synthetic MQTT session exists (CONNECT sent)
  bool _connected = false;     // its CONNACK came
  bool _keep_alive = true;     // of the request being answered
  // The request's Origin when its page may read the answer (CORS); "": no such header.
  std::string _allow_origin;
  // The CORS headers of an answer ("" when the request named no allowed origin).
  std::string cors_headers() const;
  void preflight(const Request& request);
  bool _first_request = true;
  uint16_t _next_packet_id = 1;
  uint16_t _awaited_packet_id = 0;
  std::string _token;          // of the synthetic session ("": anonymous)
  std::string _host;           // the Host its session was opened for
  std::string _skip_event_id;  // Last-Event-ID: the retained message already seen
  std::string _early_events;   // events before SUBACK, bounded (kMaxEarlyEventBytes)
  uint64_t _last_event_ms = 0;
  uint64_t _request_started_ms = 0;  // 0: no request in progress
};

}  // namespace peregrine::http
