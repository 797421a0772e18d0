#include "src/http/http_bridge.h"

#include <picojson.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>

#include <algorithm>
#include <charconv>

#include "src/base/assert.h"
#include "src/base/constant_time.h"
#include "src/http/status.h"
#include "src/mqtt/codec.h"

namespace peregrine::http {

namespace {

using mqtt::ReasonCode;

// Events that arrive between SUBSCRIBE and SUBACK (retained ones, usually) wait here.
constexpr size_t kMaxEarlyEventBytes = 4 << 20;

// A JSON string literal (the error texts are ours, but topics come from clients).
std::string json_string(std::string_view text) {
  return picojson::value(std::string(text)).serialize();
}

bool base64url_segment(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  });
}

// A JWT's shape: header.payload.signature in base64url. Verification comes with the
// identity module; until then the token rides to the MQTT layer as the password.
bool token_shaped(std::string_view token) {
  const size_t a = token.find('.');
  const size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) {
    return false;
  }
  return base64url_segment(token.substr(0, a)) && base64url_segment(token.substr(a + 1, b - a - 1)) &&
         (b + 1 == token.size() || base64url_segment(token.substr(b + 1)));
}

// The request's token: "" when none; nullopt when one is there but unusable.
std::optional<std::string> request_token(const Request& request) {
  std::string token;
  if (const std::string* header = request.header("authorization")) {
    constexpr std::string_view kBearer = "bearer ";
    if (header->size() <= kBearer.size() ||
        !std::equal(kBearer.begin(), kBearer.end(), header->begin(),
                    [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      return std::nullopt;
    }
    token = header->substr(kBearer.size());
  } else if (auto values = request.query_values("auth"); !values.empty()) {
    token = std::string(values.front());
  } else {
    return std::string();
  }
  if (!token_shaped(token)) {
    return std::nullopt;
  }
  return token;
}

bool query_flag(const Request& request, std::string_view key) {
  const auto values = request.query_values(key);
  return !values.empty() && (values.front() == "true" || values.front() == "1");
}

int status_for(ReasonCode reason) {
  switch (reason) {
    case ReasonCode::kBadUserNameOrPassword: return 401;
    case ReasonCode::kNotAuthorized:
    case ReasonCode::kBanned: return 403;
    case ReasonCode::kTopicNameInvalid:
    case ReasonCode::kTopicFilterInvalid:
    case ReasonCode::kPayloadFormatInvalid: return 400;
    case ReasonCode::kPacketTooLarge: return 413;
    case ReasonCode::kQuotaExceeded: return 429;
    case ReasonCode::kServerUnavailable:
    case ReasonCode::kServerBusy: return 503;
    default: return 500;
  }
}

void append_data_lines(std::string& out, std::string_view text) {
  // SSE lines end at CR, LF or CRLF: each line of the payload is its own data field and
  // the client joins them with LF.
  size_t start = 0;
  while (true) {
    const size_t end = text.find_first_of("\r\n", start);
    out += "data: ";
    out.append(text.substr(start, end == std::string_view::npos ? end : end - start));
    out += '\n';
    if (end == std::string_view::npos) {
      return;
    }
    start = end + ((text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n') ? 2 : 1);
  }
}

// A browser request's Origin may read the answer: listed in http.allowed_origins ("*":
// any), or the listener's own.
bool origin_allowed(std::string_view origin, const Request& request,
                    const std::vector<std::string>& allowed) {
  for (const std::string& entry : allowed) {
    if (entry == "*" || entry == origin) {
      return true;
    }
  }
  // Same origin: the page came from this listener (its host and port, either scheme).
  const size_t scheme_end = origin.find("://");
  const std::string* host = request.header("host");
  return scheme_end != std::string_view::npos && host != nullptr &&
         origin.substr(scheme_end + 3) == *host;
}

}  // namespace

HttpBridge::HttpBridge(const BridgeConfig& config, BridgeSink& sink)
    : _config(config), _sink(sink), _parser(config.limits) {}

HttpBridge::~HttpBridge() = default;

std::string HttpBridge::event_id(std::string_view topic, std::span<const uint8_t> payload) {
  // FNV-1a over topic, a separator and payload.
  uint64_t hash = 0xcbf29ce484222325ull;
  auto mix = [&hash](uint8_t byte) {
    hash ^= byte;
    hash *= 0x100000001b3ull;
  };
  for (const char c : topic) {
    mix(static_cast<uint8_t>(c));
  }
  mix(0);
  for (const uint8_t b : payload) {
    mix(b);
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

bool HttpBridge::on_client_bytes(std::span<const uint8_t> bytes, std::span<const uint8_t>* rest) {
  if (_stage == Stage::kDone || _stage == Stage::kStreaming) {
    return false;  // nothing more is read from an event stream's client
  }
  const size_t bound = _config.limits.max_head_bytes + _config.limits.max_body_bytes + 4096;
  // What fits is parsed before the rest is judged, as often as parsing makes room: a head
  // past max_head_bytes is the parser's 431 however the bytes came (all at once, or a few
  // at a time); 413 only when unparsed input itself passes the bound.
  size_t taken = 0;
  while (true) {
    const size_t fits = std::min(bytes.size() - taken, bound - std::min(bound, _pending.size()));
    _pending.insert(_pending.end(), bytes.begin() + static_cast<ptrdiff_t>(taken),
                    bytes.begin() + static_cast<ptrdiff_t>(taken + fits));
    taken += fits;
    const size_t held = _pending.size();
    parse_pending();
    if (_upgrade) {
      // Frames behind the upgrade request go to the WebSocket layer, all of them.
      _pending.insert(_pending.end(), bytes.begin() + static_cast<ptrdiff_t>(taken), bytes.end());
      *rest = std::span<const uint8_t>(_pending);
      return true;
    }
    if (taken == bytes.size()) {
      return false;
    }
    if (_stage != Stage::kReading) {
      // A request is being answered: the rest waits its turn, within the same bound.
      if (_stage != Stage::kDone && _stage != Stage::kStreaming) {
        if (_pending.size() + (bytes.size() - taken) > bound) {
          fail(413, "pipelined input over its bound");
        } else {
          _pending.insert(_pending.end(), bytes.begin() + static_cast<ptrdiff_t>(taken),
                          bytes.end());
        }
      }
      return false;
    }
    if (fits == 0 && _pending.size() == held) {
      fail(413, "pipelined input over its bound");
      return false;
    }
  }
}

void HttpBridge::arm_request_timer() {
  _request_started_ms = _sink.now_ms();
  _sink.arm(_request_started_ms + _config.request_timeout_ms);
}

void HttpBridge::parse_pending() {
  while (_stage == Stage::kReading && !_pending.empty() && !_upgrade) {
    if (_request_started_ms == 0) {
      arm_request_timer();  // slowloris: the whole request must come by then
    }
    const ParseResult result = _parser.feed(_pending);
    _pending.erase(_pending.begin(), _pending.begin() + static_cast<ptrdiff_t>(result.consumed));
    if (result.status == ParseStatus::kNeedMore) {
      return;
    }
    if (result.status == ParseStatus::kError) {
      fail(result.http_status, result.why);
      return;
    }
    _request_started_ms = 0;
    _sink.arm(0);
    dispatch(_parser.request());
  }
}

void HttpBridge::dispatch(const Request& request) {
  _keep_alive = request.keep_alive;
  const bool first = _first_request;
  _first_request = false;
  if (request.path == _config.websocket_path && request.header("upgrade") != nullptr) {
    if (!first) {
      return fail(400, "a WebSocket upgrade must be a connection's first request");
    }
    if (!broker_ready(request)) {
      return;
    }
    _upgrade = std::make_unique<Request>(request);
    return;
  }
  if (!_config.serve_api) {
    return fail(404, "this listener serves WebSocket upgrades only");
  }
  // A browser names the page's origin: one neither listed nor this listener's own may not
  // read events or publish (a cross-site POST needs no preflight to reach us).
  _allow_origin.clear();
  if (const std::string* origin = request.header("origin")) {
    if (!origin_allowed(*origin, request, _config.allowed_origins)) {
      return fail(403, "origin not allowed (http.allowed_origins)");
    }
    _allow_origin = *origin;
  }
  if (request.method == "OPTIONS") {
    return preflight(request);
  }
  if (request.path == "/healthz") {
    if (request.method != "GET") {
      return fail(405, "GET only");
    }
    respond(200, "{\"status\":\"ok\"}", _keep_alive);
    return request_done(_keep_alive);
  }
  if (request.path == "/readyz") {
    if (request.method != "GET") {
      return fail(405, "GET only");
    }
    const Readiness readiness = _sink.readiness();
    respond(readiness.ready ? 200 : 503,
            "{\"status\":" + json_string(readiness.ready ? "ready" : readiness.why) + "}",
            _keep_alive);
    return request_done(_keep_alive);
  }
  if (request.path == "/metrics") {
    return start_page(request, OperatorPage::kMetrics);
  }
  if (request.path == "/status") {
    return start_page(request, OperatorPage::kStatus);
  }
  if (request.path.starts_with("/admin/")) {
    return start_admin(request);
  }
  if (request.path != "/events") {
    return fail(404, "no such path");
  }
  if (!broker_ready(request)) {
    return;
  }
  if (request.method == "GET") {
    return start_events(request);
  }
  if (request.method == "POST") {
    return start_publish(request);
  }
  fail(405, "GET, POST or OPTIONS");
}

void HttpBridge::admin_refuse(int status, int code, const std::string& message) {
  _sink.refused(status, message.c_str());
  respond(status, admin_error(code, message), _keep_alive);
  request_done(_keep_alive);
}

void HttpBridge::start_admin(const Request& request) {
  if (_config.admin_token == nullptr) {
    return fail(404, "no admin API on this listener");
  }
  // Its own credential, never an MQTT token: the bearer must be the admin token.
  const std::string* header = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view token = _config.admin_token->current();
  if (token.empty() || header == nullptr || !header->starts_with(kBearer) ||
      !base::constant_time_equal(std::string_view(*header).substr(kBearer.size()), token)) {
    return admin_refuse(401, 10001, "the admin API needs its bearer token");
  }
  AdminCall call;
  const std::string_view method = request.method;
  if (request.path == "/admin/revocations") {
    if (method == "GET") {
      call.op = AdminCall::Op::kListRevocations;
    } else if (method == "POST" || method == "DELETE") {
      call.op = method == "POST" ? AdminCall::Op::kRevoke : AdminCall::Op::kUnrevoke;
      for (const std::string_view jti : request.query_values("jti")) {
        if (jti.empty() || jti.size() > kMaxTokenIdBytes) {
          return admin_refuse(400, 10003, "a jti is 1 to 256 bytes");
        }
        call.token_ids.emplace_back(jti);
      }
      if (call.token_ids.empty() || call.token_ids.size() > kMaxTokenIdsPerCall) {
        return admin_refuse(400, 10004, "give 1 to 1000 jti query parameters");
      }
    } else {
      return admin_refuse(405, 10005, "GET, POST or DELETE");
    }
  } else if (request.path == "/admin/keys") {
    if (method == "GET") {
      call.op = AdminCall::Op::kListKeys;
    } else if (method == "POST") {
      call.op = AdminCall::Op::kCreateKey;
    } else if (method == "DELETE") {
      call.op = AdminCall::Op::kDeleteKey;
      const std::vector<std::string_view> kids = request.query_values("kid");
      if (kids.size() != 1 || kids[0].empty() || kids[0].size() > kMaxTokenIdBytes) {
        return admin_refuse(400, 10020, "give one kid query parameter, 1 to 256 bytes");
      }
      call.key_id = std::string(kids[0]);
    } else {
      return admin_refuse(405, 10005, "GET, POST or DELETE");
    }
  } else if (request.path == "/admin/publickeys") {
    if (method != "GET") {
      return admin_refuse(405, 10005, "GET only");
    }
    call.op = AdminCall::Op::kPublicKeys;
  } else if (request.path == "/admin/credentials") {
    if (method != "GET" && method != "POST") {
      return admin_refuse(405, 10005, "GET or POST");
    }
    call.op = AdminCall::Op::kIssue;
    std::string why;
    if (!parse_credential_request(request, call.credentials, why)) {
      return admin_refuse(400, 10021, why);
    }
  } else if (request.path == "/admin/namespaces" ||
             request.path.starts_with("/admin/namespaces/")) {
    std::string why;
    int status = 400;
    if (!parse_tenant_call(request, call, status, why)) {
      return admin_refuse(status, status == 405 ? 10005 : 10040, why);
    }
  } else {
    return admin_refuse(404, 10002, "no such admin resource");
  }
  _stage = Stage::kAwaitAdmin;
  _sink.admin(call);
}

bool HttpBridge::parse_tenant_call(const Request& request, AdminCall& call, int& status,
                                   std::string& why) {
  // /admin/namespaces[/NS[/brokers[/BROKER]]]: the names are checked by the broker.
  std::vector<std::string_view> parts;
  std::string_view rest = std::string_view(request.path).substr(std::string_view("/admin/").size());
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  const std::string_view method = request.method;
  using Op = AdminCall::Op;
  const bool named_ns = parts.size() >= 2 && !parts[1].empty();
  if (parts.size() == 1) {
    call.op = method == "GET" ? Op::kListNamespaces : Op::kCreateNamespace;
  } else if (parts.size() == 2 && named_ns) {
    call.op = method == "GET" ? Op::kDescribeNamespace : Op::kDeleteNamespace;
  } else if (parts.size() == 3 && named_ns && parts[2] == "brokers") {
    call.op = method == "GET" ? Op::kListBrokers : Op::kCreateBroker;
  } else if (parts.size() == 4 && named_ns && parts[2] == "brokers" && !parts[3].empty()) {
    call.op = method == "GET"     ? Op::kDescribeBroker
              : method == "PATCH" ? Op::kUpdateBroker
                                  : Op::kDeleteBroker;
  } else {
    status = 404;
    why = "no such admin resource";
    return false;
  }
  // The methods each path answers.
  const bool collection = parts.size() == 1 || parts.size() == 3;
  const bool allowed = method == "GET" || (collection && method == "POST") ||
                       (!collection && method == "DELETE") ||
                       (parts.size() == 4 && method == "PATCH");
  if (!allowed) {
    status = 405;
    why = collection ? "GET or POST" : parts.size() == 4 ? "GET, PATCH or DELETE" : "GET or DELETE";
    return false;
  }
  if (named_ns) {
    call.namespace_name = std::string(parts[1]);
  }
  if (parts.size() == 4) {
    call.broker_name = std::string(parts[3]);
  }
  // A new namespace or broker is named in the query (wrangler: `create NAME`).
  static constexpr std::string_view kKnown[] = {"name", "description", "hostname"};
  for (const auto& [key, value] : request.query) {
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      why = "unknown query parameter '" + key.substr(0, 64) + "' (name, description, hostname)";
      return false;
    }
  }
  const std::vector<std::string_view> names = request.query_values("name");
  const bool creates = call.op == Op::kCreateNamespace || call.op == Op::kCreateBroker;
  if (creates != (names.size() == 1) || names.size() > 1) {
    why = creates ? "give the new one's name (name=)" : "name= only when creating";
    return false;
  }
  if (creates) {
    (call.op == Op::kCreateNamespace ? call.namespace_name : call.broker_name) =
        std::string(names[0]);
  }
  const bool writes = !is_tenant_read(call.op) && call.op != Op::kDeleteNamespace &&
                      call.op != Op::kDeleteBroker;
  const std::vector<std::string_view> descriptions = request.query_values("description");
  if (descriptions.size() > 1 || (!descriptions.empty() && !writes) ||
      (!descriptions.empty() && (descriptions[0].size() > kMaxDescriptionBytes ||
                                 !mqtt::valid_utf8(descriptions[0])))) {
    why = "one description, up to 1024 bytes of UTF-8, when creating or updating";
    return false;
  }
  if (!descriptions.empty()) {
    call.description = std::string(descriptions[0]);
  }
  const std::vector<std::string_view> hostnames = request.query_values("hostname");
  const bool broker_writes = call.op == Op::kCreateBroker || call.op == Op::kUpdateBroker;
  if ((!hostnames.empty() && !broker_writes) || hostnames.size() > kMaxHostnamesPerBroker) {
    why = "hostname= (up to 64) only when creating or updating a broker";
    return false;
  }
  if (!hostnames.empty()) {
    call.hostnames.emplace();
    for (const std::string_view h : hostnames) {
      if (!h.empty()) {  // `hostname=` alone clears the list on an update
        call.hostnames->emplace_back(h);
      }
    }
  }
  return true;
}

bool HttpBridge::parse_credential_request(const Request& request, CredentialRequest& out,
                                          std::string& why) {
  // Cloudflare's query parameters (number, clientid, expiration, topicAcl, type) and
  // ours (pub, sub, kid); anything else is a mistake worth a 400, not silence.
  static constexpr std::string_view kKnown[] = {"number", "clientid", "expiration", "topicAcl",
                                                "type",   "pub",      "sub",        "kid"};
  for (const auto& [key, value] : request.query) {
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      why = "unknown query parameter '" + key.substr(0, 64) + "'";
      return false;
    }
  }
  const std::vector<std::string_view> types = request.query_values("type");
  if (types.size() > 1 || (types.size() == 1 && types[0] != "TOKEN")) {
    why = "type is TOKEN (the only kind of credential)";
    return false;
  }
  for (const std::string_view id : request.query_values("clientid")) {
    if (id.empty() || id.size() > kMaxClientIdBytes || !mqtt::valid_utf8(id)) {
      why = "a clientid is 1 to 256 bytes of UTF-8";
      return false;
    }
    if (std::find(out.client_ids.begin(), out.client_ids.end(), id) != out.client_ids.end()) {
      why = "a clientid given twice";
      return false;
    }
    out.client_ids.emplace_back(id);
  }
  const std::vector<std::string_view> numbers = request.query_values("number");
  if (numbers.size() > 1) {
    why = "one number";
    return false;
  }
  if (numbers.size() == 1) {
    uint32_t n = 0;
    const auto [end, ec] =
        std::from_chars(numbers[0].data(), numbers[0].data() + numbers[0].size(), n);
    if (ec != std::errc() || end != numbers[0].data() + numbers[0].size() || n == 0 ||
        n > CredentialRequest::kMaxTokens) {
      why = "number is 1 to 100";
      return false;
    }
    if (!out.client_ids.empty() && n != out.client_ids.size()) {
      why = "number and the count of clientid differ";
      return false;
    }
    out.number = n;
  }
  if (out.client_ids.size() > CredentialRequest::kMaxTokens) {
    why = "at most 100 clientid a call";
    return false;
  }
  if (!out.client_ids.empty()) {
    out.number = static_cast<uint32_t>(out.client_ids.size());
  }
  const std::vector<std::string_view> expirations = request.query_values("expiration");
  if (expirations.size() > 1 ||
      (expirations.size() == 1 && !parse_expiration(expirations[0], out.expires_in_s))) {
    why = "expiration is seconds, or a number with s, m, h, d or w (\"48h\"), or -1 for none";
    return false;
  }
  const std::pair<const char*, std::vector<std::string>*> lists[] = {
      {"topicAcl", &out.topic_acl}, {"pub", &out.publish}, {"sub", &out.subscribe}};
  for (const auto& [name, list] : lists) {
    for (const std::string_view filter : request.query_values(name)) {
      if (!mqtt::valid_topic_filter(filter) || list->size() >= CredentialRequest::kMaxFilters) {
        why = std::string("each ") + name + " is a valid topic filter, at most 100 of them";
        return false;
      }
      list->emplace_back(filter);
    }
  }
  const std::vector<std::string_view> kids = request.query_values("kid");
  if (kids.size() > 1 ||
      (kids.size() == 1 && (kids[0].empty() || kids[0].size() > kMaxTokenIdBytes))) {
    why = "one kid, 1 to 256 bytes";
    return false;
  }
  if (kids.size() == 1) {
    out.kid = std::string(kids[0]);
  }
  return true;
}

void HttpBridge::admin_answer(int status, std::string_view json_body) {
  if (_stage != Stage::kAwaitAdmin) {
    return;
  }
  respond(status, json_body, _keep_alive);
  request_done(_keep_alive);
}

bool HttpBridge::broker_ready(const Request& request) {
  const Readiness readiness = _sink.readiness();
  if (readiness.ready) {
    return true;
  }
  if (!readiness.starting) {
    fail(503, readiness.why);  // draining: come back elsewhere
    return false;
  }
  // Starting (the log replayed, routes exchanged: well under a second for a million
  // retained messages): the request waits rather than fail a client that came early.
  _held = std::make_unique<Request>(request);
  _stage = Stage::kAwaitReady;
  return false;
}

bool HttpBridge::resume(std::span<const uint8_t>* rest) {
  if (_stage != Stage::kAwaitReady || !_held) {
    return false;
  }
  std::unique_ptr<Request> held = std::move(_held);
  _stage = Stage::kReading;
  // As if it came now: a held upgrade passed the first-request check already.
  _first_request = held->path == _config.websocket_path && held->header("upgrade") != nullptr;
  dispatch(*held);
  if (_upgrade) {
    *rest = std::span<const uint8_t>(_pending);
    return true;
  }
  parse_pending();
  return false;
}

void HttpBridge::start_page(const Request& request, OperatorPage page) {
  if (request.method != "GET") {
    return fail(405, "GET only");
  }
  _stage = Stage::kAwaitPage;
  _sink.page(page);
}

void HttpBridge::page_answer(int status, std::string_view content_type, std::string_view body) {
  if (_stage != Stage::kAwaitPage) {
    return;
  }
  respond_typed(status, content_type, body, _keep_alive, "Cache-Control: no-store\r\n");
  request_done(_keep_alive);
}

bool HttpBridge::ensure_session(const Request& request) {
  const std::optional<std::string> token = request_token(request);
  if (!token) {
    fail(401, "invalid token");
    return false;
  }
  const std::string* host_header = request.header("host");
  const std::string_view host = host_header != nullptr ? *host_header : std::string_view();
  if (_session) {
    if (*token != _token) {
      fail(400, "another token on a kept-alive connection");
      return false;
    }
    if (host != _host) {
      // Its session belongs to the virtual broker the first Host chose.
      fail(421, "another Host on a kept-alive connection");
      return false;
    }
    return true;
  }
  if (!_sink.serves_host(host)) {
    fail(421, "no virtual broker for this Host");  // RFC 9110 §15.5.20
    return false;
  }
  _token = *token;
  _host = std::string(host);
  _sink.session_host(_host);
  mqtt::Connect connect;
  connect.version = mqtt::ProtocolVersion::kV5;
  connect.clean_start = true;
  // The MQTT keep alive is the HTTP idle timeout; an event stream pings in time.
  connect.keep_alive = static_cast<uint16_t>(
      std::clamp<uint32_t>(_config.idle_timeout_ms / 1000, 1, 65535));
  connect.client_id = "";  // assigned by the broker
  if (!_token.empty()) {
    connect.password = mqtt::Bytes(reinterpret_cast<const uint8_t*>(_token.data()), _token.size());
  }
  std::vector<uint8_t> out;
  mqtt::encode(mqtt::ProtocolVersion::kV5, connect, out);
  _session = true;
  _sink.to_protocol(out);
  return true;
}

void HttpBridge::start_events(const Request& request) {
  const auto topics = request.query_values("topic");
  if (topics.empty()) {
    return fail(400, "no topic");
  }
  mqtt::Subscribe subscribe;
  const bool resume = request.header("last-event-id") != nullptr;
  // Retained messages first on durable=true, and on a resumed stream: the retained
  // state is what a resumed stream has to catch up from.
  const uint8_t retain_handling = (query_flag(request, "durable") || resume) ? 0 : 2;
  for (const std::string_view topic : topics) {
    if (!mqtt::valid_topic_filter(topic)) {
      return fail(400, "bad topic filter");
    }
    subscribe.subscriptions.push_back({topic, 0, false, false, retain_handling});
  }
  if (resume) {
    _skip_event_id = *request.header("last-event-id");
  }
  if (!ensure_session(request)) {
    return;
  }
  subscribe.packet_id = _awaited_packet_id = _next_packet_id++;
  std::vector<uint8_t> out;
  mqtt::encode(mqtt::ProtocolVersion::kV5, subscribe, out);
  _stage = Stage::kAwaitSubscribe;
  _sink.to_protocol(out);
}

void HttpBridge::start_publish(const Request& request) {
  const auto topics = request.query_values("topic");
  if (topics.size() != 1 || !mqtt::valid_topic_name(topics.front())) {
    return fail(400, "one valid topic name expected");
  }
  mqtt::Publish publish;
  publish.qos = 1;
  publish.topic = topics.front();
  publish.retain = query_flag(request, "retain");
  if (const auto ttl = request.query_values("ttl"); !ttl.empty()) {
    uint32_t seconds = 0;
    const auto [end, ec] = std::from_chars(ttl.front().data(),
                                           ttl.front().data() + ttl.front().size(), seconds);
    if (ec != std::errc() || end != ttl.front().data() + ttl.front().size() || seconds == 0) {
      return fail(400, "ttl is a positive number of seconds");
    }
    publish.properties.message_expiry_interval = seconds;
  }
  publish.payload = mqtt::Bytes(reinterpret_cast<const uint8_t*>(request.body.data()),
                                request.body.size());
  if (mqtt::publish_size(mqtt::ProtocolVersion::kV5, publish, request.body.size()) >
      _config.max_packet_size) {
    return fail(413, "message over the maximum packet size");
  }
  if (!ensure_session(request)) {
    return;
  }
  publish.packet_id = _awaited_packet_id = _next_packet_id++;
  if (_next_packet_id == 0) {
    _next_packet_id = 1;
  }
  std::vector<uint8_t> out;
  mqtt::encode(mqtt::ProtocolVersion::kV5, publish, out);
  _stage = Stage::kAwaitPuback;
  _sink.to_protocol(out);
}

void HttpBridge::on_protocol_bytes(std::span<const uint8_t> bytes) {
  _from_mqtt.insert(_from_mqtt.end(), bytes.begin(), bytes.end());
  size_t pos = 0;
  while (_stage != Stage::kDone) {
    const mqtt::Frame frame =
        mqtt::read_frame(std::span<const uint8_t>(_from_mqtt).subspan(pos), _config.max_packet_size);
    if (frame.status != mqtt::FrameStatus::kComplete) {
      PG_ASSERT(frame.status == mqtt::FrameStatus::kNeedMore);  // our own broker's output
      break;
    }
    const auto body = std::span<const uint8_t>(_from_mqtt).subspan(
        pos + frame.header.header_length, frame.header.remaining_length);
    on_mqtt_packet(_from_mqtt[pos], body);
    pos += frame.header.total_length();
  }
  if (_stage == Stage::kDone) {
    _from_mqtt.clear();
  } else {
    _from_mqtt.erase(_from_mqtt.begin(), _from_mqtt.begin() + static_cast<ptrdiff_t>(pos));
  }
}

void HttpBridge::on_mqtt_packet(uint8_t first_byte, std::span<const uint8_t> body) {
  switch (static_cast<mqtt::PacketType>(first_byte >> 4)) {
    case mqtt::PacketType::kConnack: return on_connack(body);
    case mqtt::PacketType::kSuback: return on_suback(body);
    case mqtt::PacketType::kPuback: return on_puback(body);
    case mqtt::PacketType::kPublish: return on_publish(first_byte & 0x0F, body);
    case mqtt::PacketType::kDisconnect: return on_disconnect(body);
    default: return;  // PINGRESP and the like: nothing for the HTTP client
  }
}

void HttpBridge::on_connack(std::span<const uint8_t> body) {
  mqtt::FixedHeader header{mqtt::PacketType::kConnack, 0,
                           static_cast<uint32_t>(body.size()), 2};
  mqtt::Packet packet;
  if (mqtt::decode(mqtt::ProtocolVersion::kV5, header, body, packet) != ReasonCode::kSuccess) {
    return fail(500, "undecodable CONNACK");
  }
  const ReasonCode reason = std::get<mqtt::Connack>(packet).reason;
  if (reason != ReasonCode::kSuccess) {
    return fail(status_for(reason), "session refused");
  }
  _connected = true;
}

void HttpBridge::on_suback(std::span<const uint8_t> body) {
  mqtt::FixedHeader header{mqtt::PacketType::kSuback, 0, static_cast<uint32_t>(body.size()), 2};
  mqtt::Packet packet;
  if (mqtt::decode(mqtt::ProtocolVersion::kV5, header, body, packet) != ReasonCode::kSuccess) {
    return fail(500, "undecodable SUBACK");
  }
  const auto& suback = std::get<mqtt::Suback>(packet);
  if (_stage != Stage::kAwaitSubscribe || suback.packet_id != _awaited_packet_id) {
    return;
  }
  for (const ReasonCode reason : suback.reasons) {
    if (static_cast<uint8_t>(reason) >= 0x80) {
      return fail(status_for(reason) == 500 ? 400 : status_for(reason), "subscription refused");
    }
  }
  const std::string head =
      status_line(200) + "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
      cors_headers() + "X-Accel-Buffering: no\r\n\r\n";
  _sink.to_client(text_bytes(head));
  _stage = Stage::kStreaming;
  if (!_early_events.empty()) {
    _sink.to_client(text_bytes(_early_events));
    _early_events.clear();
    _early_events.shrink_to_fit();
  }
  _sink.arm(_sink.now_ms() + _config.sse_keepalive_ms);
}

void HttpBridge::on_puback(std::span<const uint8_t> body) {
  mqtt::FixedHeader header{mqtt::PacketType::kPuback, 0, static_cast<uint32_t>(body.size()), 2};
  mqtt::Packet packet;
  if (mqtt::decode(mqtt::ProtocolVersion::kV5, header, body, packet) != ReasonCode::kSuccess) {
    return fail(500, "undecodable PUBACK");
  }
  const auto& ack = std::get<mqtt::Ack>(packet);
  if (_stage != Stage::kAwaitPuback || ack.packet_id != _awaited_packet_id) {
    return;
  }
  if (ack.reason != ReasonCode::kSuccess && ack.reason != ReasonCode::kNoMatchingSubscribers) {
    return fail(status_for(ack.reason), "publish refused");
  }
  respond(200, "{\"status\":\"ok\"}", _keep_alive);
  request_done(_keep_alive);
}

void HttpBridge::on_publish(uint8_t flags, std::span<const uint8_t> body) {
  mqtt::Publish publish;
  if (mqtt::decode_publish(mqtt::ProtocolVersion::kV5, flags, body, publish) !=
      ReasonCode::kSuccess) {
    return;
  }
  if (publish.qos > 0) {
    // Subscriptions are QoS 0; acknowledge anything else so no window fills up.
    std::vector<uint8_t> out;
    mqtt::encode(mqtt::ProtocolVersion::kV5,
                 mqtt::Ack{publish.qos == 1 ? mqtt::PacketType::kPuback : mqtt::PacketType::kPubrec,
                           publish.packet_id, ReasonCode::kSuccess, {}},
                 out);
    _sink.to_protocol(out);
  }
  if (_stage == Stage::kStreaming || _stage == Stage::kAwaitSubscribe) {
    send_event(publish.topic, publish.payload, publish.retain);
  }
}

void HttpBridge::on_disconnect(std::span<const uint8_t> body) {
  ReasonCode reason = ReasonCode::kSuccess;
  if (!body.empty()) {
    reason = static_cast<ReasonCode>(body[0]);
  }
  if (_stage == Stage::kStreaming) {
    _stage = Stage::kDone;
    _sink.finish();  // the event stream ends with the connection
    return;
  }
  fail(reason == ReasonCode::kSuccess ? 500 : status_for(reason), "session ended by the broker");
}

void HttpBridge::send_event(std::string_view topic, std::span<const uint8_t> payload,
                            bool retained) {
  const std::string id = event_id(topic, payload);
  if (retained && id == _skip_event_id) {
    return;  // the resumed stream's last event
  }
  const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  std::string event;
  event.reserve(payload.size() + 64);
  if (mqtt::well_formed_utf8(text)) {
    event = "event: message\nid: " + id + "\n";
    append_data_lines(event, text);
  } else {
    std::vector<uint8_t> encoded((payload.size() + 2) / 3 * 4 + 4);
    word32 length = static_cast<word32>(encoded.size());
    PG_ASSERT(Base64_Encode_NoNl(payload.data(), static_cast<word32>(payload.size()),
                                 encoded.data(), &length) == 0);
    event = "event: message-base64\nid: " + id + "\ndata: ";
    event.append(reinterpret_cast<const char*>(encoded.data()), length);
    event += '\n';
  }
  event += '\n';
  if (_stage == Stage::kAwaitSubscribe) {
    if (_early_events.size() + event.size() <= kMaxEarlyEventBytes) {
      _early_events += event;
    }
    return;
  }
  _sink.to_client(text_bytes(event));
  _last_event_ms = _sink.now_ms();
}

std::string HttpBridge::cors_headers() const {
  if (_allow_origin.empty()) {
    return {};
  }
  return "Access-Control-Allow-Origin: " + _allow_origin + "\r\nVary: Origin\r\n";
}

void HttpBridge::preflight(const Request& request) {
  // CORS preflight (and a plain OPTIONS): what a page may send to this listener.
  std::string out = status_line(204) + cors_headers() +
                    "Allow: GET, POST, OPTIONS\r\n"
                    "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                    "Access-Control-Max-Age: 600\r\n";
  if (const std::string* asked = request.header("access-control-request-headers")) {
    out += "Access-Control-Allow-Headers: " + *asked + "\r\n";  // any: the body is the payload
  }
  if (!_keep_alive) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  _sink.to_client(text_bytes(out));
  request_done(_keep_alive);
}

void HttpBridge::respond(int status, std::string_view json_body, bool keep_alive) {
  respond_typed(status, "application/json", json_body, keep_alive);
}

void HttpBridge::respond_typed(int status, std::string_view content_type, std::string_view body,
                               bool keep_alive, std::string_view extra_headers) {
  std::string out = status_line(status) + "Content-Type: " + std::string(content_type) +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                    cors_headers();
  out += extra_headers;
  if (status == 405) {
    out += "Allow: GET, POST, OPTIONS\r\n";
  }
  if (status == 503) {
    out += "Retry-After: 1\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  out.append(body);
  _sink.to_client(text_bytes(out));
}

void HttpBridge::fail(int status, const char* why) {
  if (_stage == Stage::kDone) {
    return;
  }
  _sink.refused(status, why);
  if (_stage != Stage::kStreaming) {
    respond(status, "{\"error\":" + json_string(why) + "}", false);
  }
  _stage = Stage::kDone;
  _sink.arm(0);
  _sink.finish();
}

void HttpBridge::request_done(bool keep_alive) {
  if (!keep_alive) {
    _stage = Stage::kDone;
    _sink.finish();
    return;
  }
  _stage = Stage::kReading;
  _parser.reset();
  _sink.arm(_sink.now_ms() + _config.idle_timeout_ms);
  parse_pending();
}

void HttpBridge::on_timer() {
  const uint64_t now = _sink.now_ms();
  switch (_stage) {
    case Stage::kStreaming: {
      if (now - _last_event_ms >= _config.sse_keepalive_ms) {
        _sink.to_client(text_bytes(": keepalive\n\n"));
        _last_event_ms = now;
      }
      // Traffic for the MQTT keep alive, which would otherwise end a quiet stream.
      static constexpr uint8_t kPingreq[] = {0xC0, 0x00};
      _sink.to_protocol(kPingreq);
      _sink.arm(now + _config.sse_keepalive_ms);
      return;
    }
    case Stage::kReading:
      if (_request_started_ms != 0) {
        return fail(408, "request not complete in time");
      }
      _stage = Stage::kDone;  // idle keep-alive connection
      _sink.finish();
      return;
    default:
      return;
  }
}

}  // namespace peregrine::http
