#include "src/broker/client.h"

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/base/owner.h"
#include "src/io/ring.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

using mqtt::PacketType;
using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

namespace {

// Slack over the maximum packet size for bytes that trail a partial packet.
constexpr size_t kInputSlack = 64 * 1024;
// While paused for back-pressure: the shard's provided buffers, spares included.
constexpr io::RingOptions kRingDefaults{};
constexpr size_t kPausedSlack =
    (size_t{kRingDefaults.recv_buffer_count} + kRingDefaults.recv_buffer_spares) *
        kRingDefaults.recv_buffer_size +
    kInputSlack;

bool is_v5(ProtocolVersion version) { return version == ProtocolVersion::kV5; }

// Reason strings of refused PUBLISHes (v5, with problem information).
constexpr const char* kRetainRefused = "retained message refused: retained limits reached";
constexpr const char* kPublishDenied = "not authorized to publish to this topic";
constexpr const char* kLogFailed = "not stored: the log write failed";

// The Reason String of a refused CONNECT: what was wrong, never the credential.
const char* refusal_text(AuthRefusal refusal) {
  switch (refusal) {
    case AuthRefusal::kNoCredentials: return "credentials required";
    case AuthRefusal::kTokenMalformed: return "token malformed";
    case AuthRefusal::kTokenKey: return "token algorithm or key not accepted";
    case AuthRefusal::kTokenSignature: return "token signature invalid";
    case AuthRefusal::kTokenExpired: return "token expired";
    case AuthRefusal::kTokenNotYetValid: return "token not yet valid";
    case AuthRefusal::kTokenClaims: return "token claims not accepted";
    case AuthRefusal::kTokenRevoked: return "token revoked";
    case AuthRefusal::kSubjectMismatch: return "client id or username is not the token's subject";
    case AuthRefusal::kBadPassword: return "bad user name or password";
    case AuthRefusal::kNone: break;
  }
  return "credentials refused";
}

}  // namespace

Client::Client(BrokerPort* broker, ClientSink& sink) : _broker(broker), _sink(sink) {}

void Client::PendingInput::append(std::span<const uint8_t> bytes) {
  if (bytes.empty()) {
    return;
  }
  if (_bytes == nullptr) {
    _bytes = std::make_unique<std::vector<uint8_t>>(bytes.begin(), bytes.end());
    return;
  }
  _bytes->insert(_bytes->end(), bytes.begin(), bytes.end());
}

std::vector<uint8_t> Client::PendingInput::take() {
  if (_bytes == nullptr) {
    return {};
  }
  std::vector<uint8_t> bytes = std::move(*_bytes);
  _bytes.reset();
  return bytes;
}

void Client::PendingInput::consume(size_t n) {
  if (_bytes == nullptr) {
    return;
  }
  if (n >= _bytes->size()) {
    _bytes.reset();
    return;
  }
  _bytes->erase(_bytes->begin(), _bytes->begin() + static_cast<ptrdiff_t>(n));
}

Client::~Client() {
  if (_will != nullptr) {
    _will->unref();
  }
  if (_slot != nullptr) {
    if (_address_key != 0) {
      _slot->addresses().give_back(_address_key);
    }
    _slot->give_back(_listener);
  }
}

void Client::begin() {
  _last_rx_ms = _sink.now_ms();
  _connect_deadline_ms = _last_rx_ms + broker().limits().connect_timeout_ms;
  _sink.arm_timer(_connect_deadline_ms);
  _sink.start();
}

void Client::restart_connect_deadline() {
  if (_phase != Phase::kAwaitConnect) {
    return;
  }
  _connect_deadline_ms = _sink.now_ms() + broker().limits().connect_timeout_ms;
  _sink.arm_timer(_connect_deadline_ms);
}

void Client::adopt(BrokerPort* broker) {
  _broker = broker;
  _phase = Phase::kAwaitConnect;
  _sink.arm_timer(_connect_deadline_ms);
  start_with_pending();  // the CONNECT and whatever followed it
}

void Client::adopt_rehomed(BrokerPort* broker) {
  _broker = broker;
  rehome_done();
  arm_keep_alive();
  start_with_pending();  // what followed its last PUBLISH, if anything
}

void Client::start_with_pending() {
  _sink.start();
  const std::vector<uint8_t> pending = _in.take();
  if (!pending.empty()) {
    take_input(pending);
  }
}

void Client::on_bytes(std::span<const uint8_t> bytes) {
  PG_DASSERT_OWNER(broker().shard_id());
  broker().stats().bytes_in += bytes.size();
  take_input(bytes);
}

void Client::take_input(std::span<const uint8_t> bytes) {
  if (moving()) {
    _in.append(bytes);  // travels with the connection
    return;
  }
  if (_sink.input_paused()) {
    // Bytes that were already on their way when reading paused: with io_uring, up to the
    // completions already in the ring for this socket (at most the shard's provided
    // buffers, kPausedSlack).
    if (_in.size() + bytes.size() > size_t{broker().limits().max_packet_size} + kPausedSlack) {
      fail(ReasonCode::kPacketTooLarge, "input buffer over its bound");
      return;
    }
    _in.append(bytes);
    return;
  }
  _last_rx_ms = _sink.now_ms();
  if (!_in.empty()) {
    bytes = finish_pending_packet(bytes);
    if (!_sink.open() || bytes.empty()) {
      start_migration_if_due();
      return;
    }
    if (moving() || _sink.input_paused()) {
      _in.append(bytes);  // after what the packet left unread; bounded as on entry
      start_migration_if_due();
      return;
    }
  }
  if (_in.empty()) {
    const size_t used = process(bytes);
    if (used < bytes.size() && (_sink.open() || moving())) {
      _in.append(bytes.subspan(used));
    }
    start_migration_if_due();
    return;
  }
  if (_in.size() + bytes.size() > size_t{broker().limits().max_packet_size} + kInputSlack) {
    fail(ReasonCode::kPacketTooLarge, "input buffer over its bound");
    return;
  }
  _in.append(bytes);
  consume_pending(process(_in.bytes()));
  start_migration_if_due();
}

std::span<const uint8_t> Client::finish_pending_packet(std::span<const uint8_t> bytes) {
  const uint32_t max = broker().limits().max_packet_size;
  while (!_in.empty() && !bytes.empty()) {
    const mqtt::Frame frame = mqtt::read_frame(_in.bytes(), max);
    if (frame.status != mqtt::FrameStatus::kNeedMore) {
      // Whole packets held back (by a pause or a move) or a bad header: the general path.
      return bytes;
    }
    const bool sized = frame.header.header_length != 0;
    // Until its fixed header is whole, the packet's size is unknown: a byte at a time
    // (at most four).
    const size_t want =
        sized ? frame.header.header_length + frame.header.remaining_length - _in.size() : 1;
    const size_t take = std::min(want, bytes.size());
    _in.append(bytes.first(take));
    bytes = bytes.subspan(take);
    if (sized && take == want) {
      // Kept if it stopped before the packet (paused, or moving): it goes first later.
      consume_pending(process(_in.bytes()));
      if (!_sink.open() || moving() || _sink.input_paused()) {
        return bytes;
      }
    }
  }
  // The last byte taken may have completed a fixed header whose packet has no body
  // (PINGREQ, a v3 DISCONNECT): whole now, so handled now. Left for the next read, it
  // waited for bytes a client expecting its PINGRESP never sends.
  if (!_in.empty() && _sink.open() && !moving() && !_sink.input_paused() &&
      mqtt::read_frame(_in.bytes(), max).status != mqtt::FrameStatus::kNeedMore) {
    consume_pending(process(_in.bytes()));
  }
  return bytes;
}

void Client::consume_pending(size_t used) {
  // A closed connection keeps nothing; one that stopped early keeps what it did not use.
  _in.consume(_sink.open() || moving() ? used : _in.size());
}

void Client::resume_after_backpressure() {
  if (_input_held) {
    // A CONNACK or SUBACK still waits (hold_input): reading on would answer what came
    // after it first. Its release resumes.
    return;
  }
  _sink.resume_input();
  if (!_in.empty() && _sink.open()) {
    const std::vector<uint8_t> pending = _in.take();
    take_input(pending);
  }
}

void Client::start_migration_if_due() {
  if (rehoming() && awaits_retain_answers()) {
    return;  // its acknowledgements' answers come to this shard: it moves once they have
  }
  if (moving() && _sink.open()) {
    _sink.detach();  // ShardBroker::detached() posts it onward once quiesced
  }
}

size_t Client::process(std::span<const uint8_t> data) {
  size_t pos = 0;
  while (_sink.open() && !moving() && pos < data.size()) {
    const mqtt::Frame frame =
        mqtt::read_frame(data.subspan(pos), broker().limits().max_packet_size);
    if (frame.status == mqtt::FrameStatus::kNeedMore) {
      break;
    }
    if (frame.status == mqtt::FrameStatus::kMalformed) {
      fail(ReasonCode::kMalformedPacket, "bad fixed header");
      break;
    }
    if (frame.status == mqtt::FrameStatus::kTooLarge) {
      if (_phase == Phase::kAwaitConnect) {
        note_connect_version(frame.header, data.subspan(pos));
      }
      fail(ReasonCode::kPacketTooLarge, "packet over the maximum packet size");
      break;
    }
    const mqtt::FixedHeader& header = frame.header;
    if (header.type == PacketType::kPublish && !is_v5(_version) && _held_acks != nullptr &&
        _held_acks->acks.size() >= broker().limits().receive_maximum) {
      // A 3.1.1 client knows no Receive Maximum: with this many acknowledgements waiting
      // for writes, read no more PUBLISH until they drain (answered() resumes it).
      _sink.pause_input();
      _paused_for_acks = true;
      break;
    }
    if (header.type == PacketType::kPublish && broker().backpressured()) {
      // Mailboxes to other shards are full and their overflow is at its bound: read no
      // more PUBLISH until it drains; what is buffered waits here (bounded by _in's cap).
      _sink.pause_input();
      broker().paused(this);
      break;
    }
    if (_phase == Phase::kConnected && broker().limits().max_packets_per_second != 0 &&
        !_packet_rate.take(_sink.now_ms(), broker().limits())) {
      broker().stats().rate_limited++;
      fail(ReasonCode::kMessageRateTooHigh, "over max_packets_per_second");
      break;
    }
    const mqtt::Bytes body = data.subspan(pos + header.header_length, header.remaining_length);
    if (!handle_packet(header, body)) {
      break;
    }
    if (_phase == Phase::kMigrating) {
      break;  // leave the CONNECT in the buffer: the session's shard reads it again
    }
    pos += header.total_length();  // a rehoming client's last PUBLISH is done here
    if ((header.type == PacketType::kConnect || header.type == PacketType::kAuth ||
         header.type == PacketType::kSubscribe) &&
        _sink.input_paused()) {
      break;  // its answer waits (a CONNACK for the disk, a SUBSCRIBE for other shards)
    }
  }
  return pos;
}

void Client::note_connect_version(const mqtt::FixedHeader& header, mqtt::Bytes data) {
  // An oversized CONNECT is refused before its body is read; its first bytes still tell a
  // v5 client, which is owed CONNACK 0x95 rather than a silent close.
  if (header.type != PacketType::kConnect) {
    return;
  }
  const size_t at = header.header_length;
  if (data.size() >= at + 7 && data[at] == 0 && data[at + 1] == 4 &&
      mqtt::as_string_view(data.subspan(at + 2, 4)) == "MQTT" && data[at + 6] == 5) {
    _version = ProtocolVersion::kV5;
    _version_known = true;
  }
}

bool Client::handle_packet(const mqtt::FixedHeader& header, mqtt::Bytes body) {
  if (_phase == Phase::kAwaitConnect) {
    if (header.type != PacketType::kConnect) {
      // [MQTT-3.1.0-1]: the first packet must be CONNECT; no CONNACK for anything else.
      return fail(ReasonCode::kProtocolError, "first packet is not CONNECT");
    }
    return handle_connect(header, body);
  }
  if (_phase == Phase::kAuthenticating && header.type != PacketType::kAuth &&
      header.type != PacketType::kDisconnect) {
    return fail(ReasonCode::kProtocolError, "packet other than AUTH during authentication");
  }
  if (header.type == PacketType::kPublish) {
    return handle_publish(header, body);
  }
  if (mqtt::is_ack(header.type)) {
    mqtt::Ack& ack = broker().inbound_ack();
    const ReasonCode rc = mqtt::decode_ack(_version, header, body, ack);
    if (rc != ReasonCode::kSuccess) {
      return fail(rc, "undecodable packet");
    }
    return handle_ack(ack);
  }
  mqtt::Packet packet;
  const char* fault = "undecodable packet";
  const ReasonCode rc = mqtt::decode(_version, header, body, packet, &fault);
  if (rc != ReasonCode::kSuccess) {
    return fail(rc, fault);
  }
  switch (header.type) {
    case PacketType::kSubscribe:
      broker().subscribe(this, std::get<mqtt::Subscribe>(packet));
      return true;
    case PacketType::kUnsubscribe:
      broker().unsubscribe(this, std::get<mqtt::Unsubscribe>(packet));
      return true;
    case PacketType::kPingreq:
      send_packet(mqtt::Pingresp{});
      return true;
    case PacketType::kDisconnect:
      handle_disconnect(std::get<mqtt::Disconnect>(packet));
      return false;
    case PacketType::kConnect:
      return fail(ReasonCode::kProtocolError, "second CONNECT [MQTT-3.1.0-2]");
    case PacketType::kAuth:
      return handle_auth(std::get<mqtt::Auth>(packet));
    default:
      return fail(ReasonCode::kProtocolError, "packet type a server never receives");
  }
}

bool Client::handle_connect(const mqtt::FixedHeader& header, mqtt::Bytes body) {
  mqtt::Connect connect;
  const ReasonCode rc = mqtt::decode_connect(header.flags, body, connect);
  const auto level = static_cast<uint8_t>(connect.version);
  _version_known = level >= 3 && level <= 5;
  _version = _version_known ? connect.version : ProtocolVersion::kV311;
  if (rc == ReasonCode::kUnsupportedProtocolVersion) {
    // A client of an unknown level understands the v3 layout best: return code 1.
    _version = ProtocolVersion::kV311;
    _version_known = true;
    return fail(rc, "unsupported protocol name or level");
  }
  if (rc != ReasonCode::kSuccess) {
    return fail(rc, "malformed CONNECT");
  }
  // From here every packet to the client, a refusing CONNACK too, fits its limit.
  _max_packet_size = connect.properties.maximum_packet_size.value_or(0);
  if (!_broker_chosen && !choose_broker()) {
    return false;
  }
  if (!check_connect(connect)) {
    return false;
  }
  if (!_authenticated && (!authenticate(connect) || !check_will_grant(connect))) {
    return false;
  }
  apply_tls_identity(connect);
  if (!_client_id) {
    if (connect.client_id.empty()) {
      // A token's subject is the client id: an empty one is assigned it (Cloudflare's
      // rule), told in CONNACK to a v5 client.
      const bool bound = _proven != nullptr && !_proven->subject.empty();
      _client_id = bound ? _proven->subject : broker().assign_client_id();
      _id_assigned = true;
    } else {
      _client_id = connect.client_id;
    }
  }
  if (_scope && mqtt::scope_length(*_client_id) == 0) {
    _client_id = mqtt::scoped(*_scope, *_client_id);  // the session's key (scope.h)
  }
  if (!broker().connects_here(*_client_id)) {
    _phase = Phase::kMigrating;  // to the shard that has its session, or its home
    return true;
  }
  if (connect.properties.authentication_method) {
    return begin_enhanced_auth(header, body, connect);
  }
  return accept_connect(connect);
}

bool Client::choose_broker() {
  const BrokerChoice choice =
      broker().choose_broker(_listener, _sink.server_name(), _sink.http_host());
  if (choice.refused) {
    broker().stats().broker_unmatched_refused++;
    return fail(ReasonCode::kServerUnavailable, "no virtual broker for this connection");
  }
  if (choice.broker != nullptr) {
    _scope = choice.broker->scope;
  }
  _broker_chosen = true;
  return true;
}

bool Client::authenticate(const mqtt::Connect& connect) {
  _authenticated = true;
  const bool certificate =
      !_sink.peer_identity().empty() && _sink.tls_identity() != net::TlsIdentity::kNone;
  if (certificate) {
    _proven = std::make_unique<ProvenIdentity>();
  }
  Authenticator* authenticator = broker().authenticator();
  if (authenticator == nullptr) {
    return true;
  }
  Credentials credentials;
  credentials.client_id = connect.client_id;
  credentials.username = connect.username;
  if (connect.password) {
    credentials.password = mqtt::as_string_view(*connect.password);
  }
  credentials.certificate = certificate;
  credentials.enhanced = connect.properties.authentication_method.has_value();
  AuthResult result = authenticator->authenticate(credentials);
  if (!result.refused() && !result.token_id.empty() && broker().token_revoked(result.token_id)) {
    result.outcome = AuthResult::Outcome::kBadCredentials;
    result.refusal = AuthRefusal::kTokenRevoked;
  }
  if (result.refused()) {
    broker().stats().refused(result.refusal)++;
    return fail(result.outcome == AuthResult::Outcome::kBadCredentials
                    ? ReasonCode::kBadUserNameOrPassword
                    : ReasonCode::kNotAuthorized,
                refusal_text(result.refusal));
  }
  if (result.outcome != AuthResult::Outcome::kVerified) {
    return true;
  }
  broker().stats().auth_verified++;
  auto proven = std::make_unique<ProvenIdentity>();
  proven->subject = std::move(result.subject);
  proven->token_id = std::move(result.token_id);
  proven->broker_key_id = std::move(result.broker_key_id);
  proven->grant = std::move(result.grant);
  if (result.expires_at_s != 0) {
    // Seconds left on the wall clock, as a deadline on the shard's own clock.
    const int64_t left_s = std::max<int64_t>(result.expires_at_s - authenticator->now_s(), 0);
    proven->deadline_ms = _sink.now_ms() + static_cast<uint64_t>(left_s) * 1000;
  }
  if (!result.username.empty()) {
    _auth_username = result.username;
  }
  _proven = std::move(proven);
  return true;
}

uint64_t Client::credential_deadline_ms() const {
  const ProvenIdentity* proven =
      _session != nullptr ? _session->proven.get() : _proven.get();
  return proven != nullptr ? proven->deadline_ms : 0;
}

bool Client::begin_enhanced_auth(const mqtt::FixedHeader& header, mqtt::Bytes body,
                                 const mqtt::Connect& connect) {
  const std::string_view name = *connect.properties.authentication_method;
  const EnhancedAuthMethod* method = broker().auth_method(name);
  if (method == nullptr) {
    return fail(ReasonCode::kBadAuthenticationMethod, "unknown authentication method");
  }
  _enhanced = std::make_unique<EnhancedAuth>();
  _enhanced->method = std::string(name);
  _enhanced->exchange = method->begin();
  _enhanced->held_connect.assign(body.begin(), body.end());
  _enhanced->held_connect_flags = header.flags;
  _phase = Phase::kAuthenticating;
  return finish_enhanced_auth(_enhanced->exchange->step(
      connect.properties.authentication_data.value_or(mqtt::Bytes{})));
}

bool Client::finish_enhanced_auth(AuthStep step) {
  PG_ASSERT(_enhanced != nullptr);
  const bool reauth = _phase == Phase::kConnected;
  switch (step.outcome) {
    case AuthStep::Outcome::kContinue: {
      mqtt::Auth auth{ReasonCode::kContinueAuthentication, {}};
      auth.properties.authentication_method = _enhanced->method;
      auth.properties.authentication_data = mqtt::Bytes(step.data);
      send_packet(auth);
      return true;
    }
    case AuthStep::Outcome::kFailure:
      _enhanced->exchange.reset();
      broker().stats().auth_failed++;
      return fail(ReasonCode::kNotAuthorized, "enhanced authentication failed");
    case AuthStep::Outcome::kSuccess:
      break;
  }
  _enhanced->exchange.reset();
  _auth_username = step.username;
  if (_proven == nullptr && !reauth) {
    _proven = std::make_unique<ProvenIdentity>();  // the exchange proved the username
  }
  if (reauth) {
    mqtt::Auth auth{ReasonCode::kSuccess, {}};
    auth.properties.authentication_method = _enhanced->method;
    auth.properties.authentication_data = mqtt::Bytes(step.data);
    send_packet(auth);
    _session->username = _auth_username;
    return true;
  }
  _enhanced->reply = std::move(step.data);
  std::vector<uint8_t> held;
  held.swap(_enhanced->held_connect);
  mqtt::Connect connect;
  PG_ASSERT(mqtt::decode_connect(_enhanced->held_connect_flags, held, connect) ==
            ReasonCode::kSuccess);
  _phase = Phase::kAwaitConnect;
  return accept_connect(connect);
}

bool Client::handle_auth(const mqtt::Auth& auth) {
  const auto& method = auth.properties.authentication_method;
  if (_enhanced == nullptr || !method || *method != _enhanced->method) {
    return fail(ReasonCode::kProtocolError, "AUTH without the connection's method");
  }
  std::unique_ptr<AuthExchange>& exchange = _enhanced->exchange;
  if (_phase == Phase::kAuthenticating || exchange != nullptr) {
    if (auth.reason != ReasonCode::kContinueAuthentication || exchange == nullptr) {
      return fail(ReasonCode::kProtocolError, "AUTH out of sequence");
    }
  } else if (auth.reason == ReasonCode::kReAuthenticate) {
    const EnhancedAuthMethod* m = broker().auth_method(_enhanced->method);
    PG_ASSERT(m != nullptr);
    exchange = m->begin();  // §4.12.1: re-authentication with the same method
  } else {
    return fail(ReasonCode::kProtocolError, "AUTH out of sequence");
  }
  return finish_enhanced_auth(
      exchange->step(auth.properties.authentication_data.value_or(mqtt::Bytes{})));
}

bool Client::check_connect(const mqtt::Connect& connect) {
  if (connect.client_id.empty() && !is_v5(_version)) {
    // 3.1 requires an id; 3.1.1 allows an empty one only with a clean session.
    if (_version == ProtocolVersion::kV31 || !connect.clean_start) {
      return fail(ReasonCode::kClientIdentifierNotValid, "empty client id [MQTT-3.1.3-8]");
    }
  }
  const Limits& limits = broker().limits();
  if (connect.client_id.size() > limits.max_client_id_length) {
    broker().stats().client_id_refused++;
    return fail(ReasonCode::kClientIdentifierNotValid, "client id over max_client_id_length");
  }
  if ((connect.username && connect.username->size() > limits.max_username_length) ||
      (connect.password && connect.password->size() > limits.max_password_length)) {
    broker().stats().credentials_refused++;
    return fail(ReasonCode::kBadUserNameOrPassword,
                "username or password over max_username_length / max_password_length");
  }
  if (connect.will && mqtt::is_sys_topic(connect.will->topic)) {
    return fail(ReasonCode::kNotAuthorized, "will topic in $SYS");
  }
  if (connect.will && fit_topic(connect.will->topic, limits) != TopicFit::kFits) {
    broker().stats().topic_limit_refused++;
    return fail(ReasonCode::kTopicNameInvalid, "will topic over max_topic_length or depth");
  }
  return true;
}

bool Client::check_will_grant(const mqtt::Connect& connect) {
  if (connect.will && _proven != nullptr && _proven->grant) {
    if (!grant_allows_publish(&*_proven->grant, connect.will->topic)) {
      broker().stats().auth_will_denied++;
      return fail(ReasonCode::kNotAuthorized, "will topic outside the token's topic claims");
    }
  }
  return true;
}

bool Client::accept_connect(const mqtt::Connect& connect) {
  const Limits& limits = broker().limits();
  if (_proven != nullptr && !_proven->token_id.empty() &&
      broker().token_revoked(_proven->token_id)) {
    // Revoked between the accepting shard's check and this one (the session's).
    broker().stats().auth_token_revoked++;
    return fail(ReasonCode::kBadUserNameOrPassword, refusal_text(AuthRefusal::kTokenRevoked));
  }
  if (_enhanced != nullptr && !broker().connects_here(*_client_id)) {
    // The session left this shard during the AUTH exchange (rehomed, or ended away from
    // its home): opening one here would make two. Rare; the client retries.
    broker().stats().connect_session_moved++;
    return fail(ReasonCode::kServerUnavailable, "session moved during authentication");
  }
  if (ConnectionSlots* slots = broker().config().slots; slots != nullptr && _slot == nullptr) {
    if (!slots->take(_listener)) {
      broker().stats().connections_refused++;
      return fail(ReasonCode::kQuotaExceeded, "max_connections reached");
    }
    const uint64_t address = _sink.peer_key();
    if (!slots->addresses().take(address)) {
      slots->give_back(_listener);
      broker().stats().address_refused++;
      return fail(ReasonCode::kQuotaExceeded, "max_connections_per_address reached");
    }
    _slot = slots;
    _address_key = address;
  }
  _keep_alive = connect.keep_alive;
  if (!is_v5(_version) && _keep_alive != 0 && _keep_alive < limits.min_keep_alive) {
    _keep_alive = limits.min_keep_alive;  // 3.1.1 cannot be told: timed on the longer
  }
  _packet_rate.fill(_sink.now_ms(), limits);
  _requested_expiry = connect.properties.session_expiry_interval.value_or(0);
  if (is_v5(_version)) {
    const mqtt::Properties& p = connect.properties;
    _problem_information = p.request_problem_information.value_or(1) == 1;
    _response_information = p.request_response_information.value_or(0) == 1;
    if (limits.max_keep_alive != 0 && (_keep_alive == 0 || _keep_alive > limits.max_keep_alive)) {
      _keep_alive = _server_keep_alive = limits.max_keep_alive;  // told in CONNACK
    }
    if (_keep_alive != 0 && _keep_alive < limits.min_keep_alive) {
      _keep_alive = _server_keep_alive = limits.min_keep_alive;  // told in CONNACK
    }
    if (limits.topic_alias_maximum > 0) {
      _in_aliases = std::make_unique<InboundAliases>(limits.topic_alias_maximum);
    }
    const uint16_t out = std::min(p.topic_alias_maximum.value_or(0), limits.outbound_topic_aliases);
    if (out > 0) {
      _out_aliases = std::make_unique<OutboundAliases>(out);
    }
  }
  // v5: the requested expiry, clamped; 3.1.1 without clean session: persistent, for
  // as long as the broker keeps sessions [MQTT-3.1.2-4..6].
  uint32_t expiry = 0;
  if (is_v5(_version)) {
    expiry = std::min(_requested_expiry, limits.max_session_expiry);
  } else if (!connect.clean_start) {
    expiry = limits.max_session_expiry;
  }
  // A CONNACK that cannot fit the client's Maximum Packet Size is not sent, and then no
  // session is opened or taken over: the connection just closes [MQTT-3.1.2-24].
  std::vector<uint8_t>& probe = broker().scratch();
  probe.clear();
  if (!encode_connack(ReasonCode::kSuccess, &connect, false, nullptr, expiry, probe)) {
    close_oversize();
    return false;
  }
  if (connect.will) {
    mqtt::Publish will;
    will.qos = connect.will->qos;
    will.retain = connect.will->retain;
    std::string scoped_topic;
    will.topic = connect.will->topic;
    if (!scope().empty()) {
      scoped_topic = mqtt::scoped(scope(), will.topic);  // routed in its broker's space
      will.topic = scoped_topic;
    }
    will.payload = connect.will->payload;
    will.properties = connect.will->properties;
    _will_delay = will.properties.will_delay_interval.value_or(0);
    will.properties.will_delay_interval.reset();
    _will = Message::create(will, _sink.connection_id(), _sink.now_ms());
  }
  _phase = Phase::kConnected;
  bool present = false;
  const uint64_t records_before = broker().journal_records();
  _session = broker().open_session(this, connect, &present);
  _client_id.reset();  // the session has it
  _scope.reset();      // and its scope, in its key
  if (_auth_username) {
    _session->username = _auth_username;  // the authenticated identity wins
  }
  _session->proven = std::move(_proven);  // this connection's, or nothing
  broker().credential_in_use(this);
  if (present) {
    broker().drop_ungranted(_session);
  }
  _session->expiry_interval = expiry;
  broker().session_opened(_session);
  const bool held = broker().persistent() && hold_connack(connect, records_before, present);
  if (!held) {
    send_connack(ReasonCode::kSuccess, &connect, present);
  }
  broker().stats().clients_connected++;
  PG_INFO("client connected client_id=%s shard=%u protocol=%u clean_start=%d keep_alive=%u peer=%s",
          mqtt::printable(client_id()).c_str(), broker().shard_id(),
          static_cast<unsigned>(_version),
          connect.clean_start ? 1 : 0, _keep_alive, _sink.peer().c_str());
  arm_keep_alive();
  if (!held) {
    _session->resume();  // what the session owes this connection, after CONNACK
  }
  return true;
}

bool Client::hold_connack(const mqtt::Connect& connect, uint64_t records_before,
                          bool present) {
  // Told "no session" (after a clean start, or for a new durable session), a client that
  // comes back after a crash must not find the old session again: the records its
  // CONNECT appended (the old session's end, the new one's image) are on disk before
  // CONNACK leaves; so is a resumed session's image that is not yet (BrokerPort::
  // connack_ticket).
  const uint64_t ticket = broker().connack_ticket(this, records_before, present);
  if (ticket == 0) {
    return false;  // most CONNECTs: nothing to wait for, and no HeldAcks allocated
  }
  const uint32_t token = next_answer_token();
  broker().wait_written_through(this, token, ticket);
  std::vector<uint8_t> connack;
  const bool fits = encode_connack(ReasonCode::kSuccess, &connect, present, nullptr,
                                   _session->expiry_interval, connack);
  PG_ASSERT(fits);  // the probe in accept_connect encoded the same CONNACK
  _held_acks->connack = std::move(connack);
  _held_acks->connack_token = token;
  hold_input();  // what follows CONNECT is read once CONNACK is out
  return true;
}

void Client::release_connack() {
  PG_DASSERT(_held_acks != nullptr && _held_acks->connack_token != 0);
  _held_acks->connack_token = 0;
  std::vector<uint8_t> connack;
  connack.swap(_held_acks->connack);
  if (_sink.closing()) {
    return;
  }
  _sink.write(connack);
  _session->resume();
  release_input();  // and what the client sent meanwhile is read
}

void Client::send_connack(ReasonCode reason, const mqtt::Connect* connect, bool present,
                          const char* why) {
  std::vector<uint8_t>& out = broker().scratch();
  out.clear();
  const uint32_t expiry = _session != nullptr ? _session->expiry_interval : _requested_expiry;
  if (!encode_connack(reason, connect, present, why, expiry, out)) {
    close_oversize();
    return;
  }
  _sink.write(out);
}

bool Client::encode_connack(ReasonCode reason, const mqtt::Connect* connect, bool present,
                            const char* why, uint32_t expiry, std::vector<uint8_t>& out) const {
  mqtt::Connack connack;
  std::string response_topic_prefix;  // outlives the encoding below
  connack.reason = reason;
  connack.session_present = present && reason == ReasonCode::kSuccess;
  if (is_v5(_version)) {
    mqtt::Properties& p = connack.properties;
    const Limits& limits = broker().limits();
    if (why != nullptr) {
      p.reason_string = why;  // always allowed on CONNACK
    }
    if (reason == ReasonCode::kSuccess) {
      p.receive_maximum = static_cast<uint16_t>(std::min<uint32_t>(limits.receive_maximum, 65535));
      if (limits.topic_alias_maximum > 0) {
        p.topic_alias_maximum = limits.topic_alias_maximum;
      }
      if (_server_keep_alive != 0) {
        p.server_keep_alive = _server_keep_alive;
      }
      if (_enhanced != nullptr) {
        p.authentication_method = _enhanced->method;
        if (!_enhanced->reply.empty()) {
          p.authentication_data = mqtt::Bytes(_enhanced->reply);
        }
      }
      if (_response_information) {
        // A topic prefix this client may use for responses [MQTT-3.2.2.3.15].
        response_topic_prefix = "response/" + std::string(visible_client_id());
        p.response_information = response_topic_prefix;
      }
      p.maximum_packet_size = limits.max_packet_size;
      if (_id_assigned) {
        p.assigned_client_identifier = visible_client_id();
      }
      if (connect != nullptr && expiry != _requested_expiry) {
        p.session_expiry_interval = expiry;  // clamped: say so
      }
    }
  }
  return encode_within_limit(connack, out);
}

bool Client::handle_publish(const mqtt::FixedHeader& header, mqtt::Bytes body) {
  mqtt::Publish& publish = broker().inbound_publish();
  const ReasonCode rc = mqtt::decode_publish(_version, header.flags, body, publish);
  if (rc != ReasonCode::kSuccess) {
    return fail(rc, "bad PUBLISH");
  }
  if (!publish.properties.subscription_identifiers.empty()) {
    return fail(ReasonCode::kProtocolError,
                "Subscription Identifier in a PUBLISH to the server [MQTT-3.3.4-6]");
  }
  if (publish.properties.topic_alias && !resolve_topic_alias(publish)) {
    return false;
  }
  if (fit_topic(publish.topic, broker().limits()) != TopicFit::kFits) [[unlikely]] {
    broker().stats().topic_limit_refused++;
    return fail(ReasonCode::kTopicNameInvalid, "topic over max_topic_length or max_topic_depth");
  }
  // The identity is built only for an Authorizer: without one or a grant, two tests.
  const Authorizer* authorizer = broker().config().authorizer;
  if (!grant_allows_publish(_session->grant(), publish.topic) ||
      (authorizer != nullptr && !authorizer->allow_publish(_session->identity(), publish.topic))) {
    return refuse_publish(publish);
  }
  // A v5 publisher learns whether its retained message was kept: 0x97 Quota exceeded when
  // the retained limits refused it (it still went to the subscribers). With persistence
  // every QoS 1/2 acknowledgement may wait for the durable sessions' writes.
  uint32_t token = 0;
  if (publish.qos > 0 && ((publish.retain && is_v5(_version)) || broker().persistent())) {
    token = next_answer_token();
  }
  const PacketType ack = publish.qos == 2 ? PacketType::kPubrec : PacketType::kPuback;
  PublishOutcome outcome;
  if (publish.qos == 2) {
    const std::optional<bool> fresh =
        _session->begin_inbound_qos2(publish.packet_id, static_cast<uint16_t>(std::min<uint32_t>(
                                                            broker().limits().receive_maximum,
                                                            65535)));
    if (!fresh) {
      return fail(ReasonCode::kReceiveMaximumExceeded, "QoS 2 beyond our Receive Maximum");
    }
    if (*fresh) {
      outcome = broker().publish(this, publish, token);  // a resend is not routed again
    } else if (token != 0 && broker().persistent() &&
               _session->inbound_unanswered(publish.packet_id)) {
      // The first PUBREC never left (that connection ended while it waited): this one
      // waits for what the first routing wrote, wherever it went.
      outcome.durable_later = broker().barrier_for_log(this, token);
    }
  } else {
    outcome = broker().publish(this, publish, token);
    if (publish.qos == 0) {
      return true;
    }
  }
  const uint8_t waits = (outcome.retained == RetainOutcome::kLater ? 1 : 0) +
                        (outcome.durable_later ? 1 : 0);
  if (waits != 0) {
    if (_held_acks->acks.size() >= broker().limits().receive_maximum) {
      return fail(ReasonCode::kReceiveMaximumExceeded,
                  "more unacknowledged QoS 1/2 PUBLISH than our Receive Maximum");
    }
    _held_acks->acks.push_back(
        {ack, publish.packet_id, token, ReasonCode::kSuccess, nullptr, waits});
    if (outcome.retained == RetainOutcome::kRefused) {
      answered_now(_held_acks->acks.back());
    }
    return true;
  }
  if (outcome.retained == RetainOutcome::kRefused) {
    acknowledge(ack, publish.packet_id, ReasonCode::kQuotaExceeded, kRetainRefused);
  } else {
    acknowledge(ack, publish.packet_id, ReasonCode::kSuccess, nullptr);
  }
  return _sink.open();
}

uint32_t Client::next_answer_token() {
  if (_held_acks == nullptr) {
    _held_acks = std::make_unique<HeldAcks>();
  }
  const uint32_t token = _held_acks->next_token;
  _held_acks->next_token = token == 0x7FFFFFFF ? 1 : token + 1;
  return token;
}

void Client::acknowledge(PacketType type, uint16_t packet_id, ReasonCode reason,
                         const char* why) {
  if (_held_acks != nullptr && !_held_acks->acks.empty()) [[unlikely]] {
    // PUBCOMPs are bounded by the QoS 2 ids awaiting PUBREL, not by this count.
    if (type != PacketType::kPubcomp &&
        _held_acks->acks.size() >= broker().limits().receive_maximum) {
      fail(ReasonCode::kReceiveMaximumExceeded,
           "more unacknowledged QoS 1/2 PUBLISH than our Receive Maximum");
      return;
    }
    _held_acks->acks.push_back({type, packet_id, 0, reason, why, 0});
    return;
  }
  send_ack_now(type, packet_id, reason, why);
}

void Client::send_ack_now(PacketType type, uint16_t packet_id, ReasonCode reason,
                          const char* why) {
  if (type == PacketType::kPubrec && !is_error(reason) && _session != nullptr) {
    _session->answered_inbound_qos2(packet_id);  // routed, durably: the log may hold it
  }
  if (reason == ReasonCode::kSuccess && why == nullptr) {
    send_success_ack(type, packet_id);  // the usual case: 4 bytes, nothing built
    return;
  }
  mqtt::Properties properties;
  if (why != nullptr && is_v5(_version) && _problem_information) {
    properties.reason_string = why;
  }
  send_packet(mqtt::Ack{type, packet_id, reason, std::move(properties)});
  if (type == PacketType::kPubrec && is_error(reason) && _session != nullptr) {
    _session->release_inbound_qos2(packet_id);  // the flow ends here: no PUBREL comes
  }
}

void Client::retain_answer(uint32_t token, bool stored) {
  answered(token, stored ? ReasonCode::kSuccess : ReasonCode::kQuotaExceeded, kRetainRefused);
}

void Client::durable_answer(uint32_t token, bool written) {
  if (_held_acks != nullptr && token == _held_acks->connack_token && token != 0) {
    release_connack();  // on disk (a failed write once its rewrite is)
    return;
  }
  if (!written && _phase == Phase::kConnected && _held_acks != nullptr) {
    broker().stats().publish_log_failed++;
    const auto& acks = _held_acks->acks;
    auto it = std::find_if(acks.begin(), acks.end(),
                           [&](const HeldAck& a) { return a.token == token; });
    // 3.1.1 has no way to say it, nor has a PUBCOMP: the connection closes, unanswered
    // (the client sends the PUBLISH or PUBREL again when it comes back).
    if (it != acks.end() && (!is_v5(_version) || it->type == PacketType::kPubcomp)) {
      if (it->type == PacketType::kPubrec && _session != nullptr) {
        // The flow failed as a v5 PUBREC 0x97 ends it: the resend is a new message,
        // routed and written again. Kept, the id would make the resend look handled,
        // and it would be acknowledged with nothing written.
        _session->release_inbound_qos2(it->packet_id);
      }
      fail(ReasonCode::kUnspecifiedError, "its log write failed");
      return;
    }
  }
  answered(token, written ? ReasonCode::kSuccess : ReasonCode::kQuotaExceeded, kLogFailed);
}

void Client::answered_now(HeldAck& held) {
  // A refusal known at once (the retained limits) for an acknowledgement that still
  // waits for its writes.
  held.reason = ReasonCode::kQuotaExceeded;
  held.why = kRetainRefused;
}

void Client::answered(uint32_t token, ReasonCode refusal, const char* why) {
  PG_DASSERT_OWNER(broker().shard_id());
  if (_held_acks == nullptr || _phase != Phase::kConnected) {
    return;
  }
  std::deque<HeldAck>& acks = _held_acks->acks;
  auto it = std::find_if(acks.begin(), acks.end(),
                         [&](const HeldAck& a) { return a.token == token; });
  if (it == acks.end()) {
    return;
  }
  PG_DASSERT(it->waits > 0);
  if (refusal != ReasonCode::kSuccess && it->reason == ReasonCode::kSuccess) {
    it->reason = refusal;
    it->why = why;
  }
  if (--it->waits == 0) {
    it->token = 0;
  }
  while (!acks.empty() && acks.front().token == 0 && _sink.open()) {
    const HeldAck next = acks.front();
    acks.pop_front();
    send_ack_now(next.type, next.packet_id, next.reason, next.why);
  }
  if (_paused_for_acks && acks.size() < broker().limits().receive_maximum / 2) {
    _paused_for_acks = false;
    broker().resume_at_turn_end(this);
  }
  if (acks.empty() && rehoming()) {
    start_migration_if_due();  // it waited for these answers to move
  }
}

bool Client::refuse_publish(const mqtt::Publish& publish) {
  broker().stats().publish_denied++;
  PG_DEBUG("PUBLISH to %.*s from %s denied", static_cast<int>(publish.topic.size()),
           publish.topic.data(), mqtt::printable(client_id()).c_str());
  if (broker().config().acl.disconnect_on_denied_publish) {
    return fail(ReasonCode::kNotAuthorized, "PUBLISH denied");
  }
  // v5 says why in the ack (§3.4.2.1); v3 has no negative ack: it is acknowledged
  // and dropped.
  const ReasonCode reason = is_v5(_version) ? ReasonCode::kNotAuthorized : ReasonCode::kSuccess;
  const char* why = is_v5(_version) ? kPublishDenied : nullptr;
  if (publish.qos == 1) {
    acknowledge(PacketType::kPuback, publish.packet_id, reason, why);
  } else if (publish.qos == 2) {
    if (!is_v5(_version)) {
      // v3 continues the flow: PUBREL will come and gets its PUBCOMP.
      _session->begin_inbound_qos2(publish.packet_id, 65535);
    }
    acknowledge(PacketType::kPubrec, publish.packet_id, reason, why);
  }
  return true;
}

bool Client::resolve_topic_alias(mqtt::Publish& publish) {
  const uint16_t alias = *publish.properties.topic_alias;
  if (_in_aliases == nullptr || !_in_aliases->valid(alias)) {
    return fail(ReasonCode::kTopicAliasInvalid, "topic alias 0 or above our maximum [MQTT-3.3.2-8], [MQTT-3.3.2-9]");
  }
  if (!publish.topic.empty()) {
    _in_aliases->set(alias, publish.topic);
  } else if (const std::string* topic = _in_aliases->get(alias)) {
    publish.topic = *topic;
  } else {
    return fail(ReasonCode::kProtocolError, "topic alias not set on this connection (§3.3.2.3.4)");
  }
  publish.properties.topic_alias.reset();  // the alias belongs to this connection only
  return true;
}

bool Client::handle_ack(const mqtt::Ack& ack) {
  switch (ack.type) {
    case PacketType::kPuback:
      _session->on_puback(ack.packet_id);
      return true;
    case PacketType::kPubrec:
      if (is_error(ack.reason)) {
        _session->on_pubrec_refused(ack.packet_id);  // the flow ends here
        return true;
      }
      _session->on_pubrec(ack.packet_id);
      return true;
    case PacketType::kPubcomp:
      _session->on_pubcomp(ack.packet_id);
      return true;
    default: {
      const bool known = _session->release_inbound_qos2(ack.packet_id);
      if (known && _session->durable) {
        // Its release is written first: after PUBCOMP the client may use the id again,
        // and a restart that still held it would take that new message for a resend.
        const uint32_t token = next_answer_token();
        if (broker().wait_for_log(this, token)) {
          _held_acks->acks.push_back(
              {PacketType::kPubcomp, ack.packet_id, token, ReasonCode::kSuccess, nullptr, 1});
          return true;
        }
      }
      if (known || !is_v5(_version)) {
        acknowledge(PacketType::kPubcomp, ack.packet_id, ReasonCode::kSuccess, nullptr);
      } else {
        send_packet(mqtt::Ack{PacketType::kPubcomp, ack.packet_id,
                              ReasonCode::kPacketIdentifierNotFound, {}});
      }
      return true;
    }
  }
}

void Client::handle_disconnect(const mqtt::Disconnect& disconnect) {
  if (_session == nullptr) {
    _sink.close_after_flush();  // gave up during authentication
    return;
  }
  if (const auto& expiry = disconnect.properties.session_expiry_interval) {
    if (_requested_expiry == 0 && *expiry > 0) {
      fail(ReasonCode::kProtocolError, "session expiry set on DISCONNECT [MQTT-3.14.2-2]");
      return;
    }
    _session->expiry_interval = std::min(*expiry, broker().limits().max_session_expiry);
  }
  // A normal DISCONNECT discards the will [MQTT-3.1.2-10]; 0x04 asks for it.
  if (disconnect.reason != ReasonCode::kDisconnectWithWill && _will != nullptr) {
    _will->unref();
    _will = nullptr;
  }
  _sink.close_after_flush();
}

mqtt::Publish Client::outgoing(const Delivery& delivery, uint16_t packet_id, bool dup,
                               bool assign_alias) {
  Message* message = delivery.message;
  mqtt::Publish publish = message->to_publish();
  publish.qos = delivery.qos;
  publish.retain = delivery.retain;
  publish.dup = dup;
  publish.packet_id = packet_id;
  if (is_v5(_version)) {
    publish.properties.subscription_identifiers = delivery.subscription_ids;
    if (auto left = message->expiry_left(broker().now_ms())) {
      // Forwarded with the time it has left [MQTT-3.3.2-6].
      publish.properties.message_expiry_interval = std::max<uint32_t>(*left, 1);
    }
    if (assign_alias && _out_aliases != nullptr) {
      const OutboundAliases::Use use = _out_aliases->use(publish.topic);
      publish.properties.topic_alias = use.alias;
      if (!use.send_topic) {
        publish.topic = {};
      }
    }
  }
  return publish;
}

bool Client::fits(const Delivery& delivery) {
  if (_max_packet_size == 0) {
    return true;
  }
  // Sized with the full topic: an alias could only make it smaller.
  const mqtt::Publish publish = outgoing(delivery, delivery.qos > 0 ? 1 : 0, false, false);
  return mqtt::publish_size(_version, publish, delivery.message->payload().size()) <=
         _max_packet_size;
}

bool Client::over_outbound_limit(size_t size) {
  if (_sink.queued_bytes() + size > broker().limits().outbound_buffer_bytes) {
    broker().stats().qos0_dropped++;
    return true;
  }
  return false;
}

void Client::send_publish(const Delivery& delivery, uint16_t packet_id, bool dup) {
  PG_DASSERT_OWNER(broker().shard_id());
  const Message* message = delivery.message;
  const bool plain = !message->has_properties() &&
                     (!is_v5(_version) ||
                      (delivery.subscription_ids.empty() && _out_aliases == nullptr));
  uint8_t small_head[256];
  if (plain && mqtt::plain_publish_head_size(_version, message->topic().size(), delivery.qos,
                                             message->payload().size()) <= sizeof small_head) {
    // What outgoing() would build carries no property: no PUBLISH copied, and for a
    // topic of up to ~240 bytes no scratch vector resized (value-initialised) either.
    const size_t n = mqtt::encode_plain_publish_head(_version, message->topic(), delivery.qos,
                                                     delivery.retain, dup, packet_id,
                                                     message->payload().size(), small_head);
    _sink.write(std::span<const uint8_t>(small_head, n));
  } else {
    std::vector<uint8_t>& head = broker().scratch();
    head.clear();
    if (plain) {
      mqtt::encode_plain_publish_head(_version, message->topic(), delivery.qos,
                                      delivery.retain, dup, packet_id,
                                      message->payload().size(), head);
    } else {
      mqtt::encode_publish_head(_version, outgoing(delivery, packet_id, dup, true),
                                message->payload().size(), head);
    }
    _sink.write(head);
  }
  _sink.write_shared(delivery.message, delivery.message->payload());
  broker().stats().messages_out++;
}

void Client::send_qos0(const Delivery& delivery) {
  const size_t payload = delivery.message->payload().size();
  // Checked before an outbound alias is assigned: a dropped message must not leave the
  // client without the alias mapping it would have carried.
  if (over_outbound_limit(mqtt::publish_size(_version, outgoing(delivery, 0, false, false),
                                             payload))) {
    return;
  }
  std::vector<uint8_t>& head = broker().scratch();
  head.clear();
  mqtt::encode_publish_head(_version, outgoing(delivery, 0, false, true), payload, head);
  _sink.write(head);
  _sink.write_shared(delivery.message, delivery.message->payload());
  broker().stats().messages_out++;
}

void Client::send_qos0_within(std::span<const uint8_t> head, std::span<const uint8_t> payload,
                              io::SharedBuffer* shared) {
  PG_DASSERT_OWNER(broker().shard_id());
  if (_phase != Phase::kConnected) {
    return;
  }
  if (_max_packet_size != 0 && head.size() + payload.size() > _max_packet_size) {
    broker().stats().oversize_dropped++;  // never more than the client allows
    return;
  }
  switch (_sink.write_within(broker().limits().outbound_buffer_bytes, head, payload, shared)) {
    case ClientSink::Bounded::kWritten:
      broker().stats().messages_out++;
      return;
    case ClientSink::Bounded::kOverLimit:
      broker().stats().qos0_dropped++;
      return;
    case ClientSink::Bounded::kClosing:
      return;
  }
}

void Client::send_qos0_shared(Message* message, std::span<const uint8_t> head) {
  send_qos0_within(head, message->payload(), message);
}

void Client::send_qos0_copy(std::span<const uint8_t> head, std::span<const uint8_t> payload) {
  send_qos0_within(head, payload, nullptr);
}

void Client::send_success_ack(PacketType type, uint16_t packet_id) {
  // Its CONNACK fitted (5 bytes at least), so these 4 bytes do.
  PG_DASSERT(_max_packet_size == 0 || _max_packet_size >= mqtt::kSuccessAckSize);
  uint8_t ack[mqtt::kSuccessAckSize];
  mqtt::encode_success_ack(type, packet_id, ack);
  _sink.write(std::span<const uint8_t>(ack, sizeof ack));
}

void Client::send_packet(const mqtt::Packet& packet) {
  std::vector<uint8_t>& out = broker().scratch();
  out.clear();
  if (!encode_within_limit(packet, out)) {
    close_oversize();
    return;
  }
  _sink.write(out);
}

bool Client::encode_within_limit(const mqtt::Packet& packet, std::vector<uint8_t>& out) const {
  const size_t start = out.size();
  mqtt::encode(_version, packet, out);
  if (_max_packet_size == 0 || out.size() - start <= _max_packet_size) {
    return true;
  }
  mqtt::Packet bare = packet;
  std::visit(
      [](auto& p) {
        if constexpr (requires { p.properties; }) {
          p.properties.reason_string.reset();
          p.properties.user_properties.clear();
        }
      },
      bare);
  out.resize(start);
  mqtt::encode(_version, bare, out);
  if (out.size() - start <= _max_packet_size) {
    return true;
  }
  out.resize(start);
  return false;
}

void Client::close_oversize() {
  broker().stats().oversize_closed++;
  PG_DEBUG("closing client_id=%s: a packet owed to it exceeds its Maximum Packet Size %u",
           mqtt::printable(client_id()).c_str(), _max_packet_size);
  _sink.close_after_flush();
}

void Client::disconnect(ReasonCode reason, const char* why) {
  if (_sink.closing()) {
    return;
  }
  if (_held_acks != nullptr && _held_acks->connack_token != 0) {
    // Taken over, timed out or shut down while its CONNACK waited for the disk: it never
    // leaves (it would promise what is not written), nor may a DISCONNECT come before a
    // CONNACK. The connection just closes, as if the network had failed.
    _held_acks->connack_token = 0;
    _held_acks->connack.clear();
    _sink.close_after_flush();
    return;
  }
  if (_phase == Phase::kConnected && is_v5(_version)) {
    mqtt::Disconnect packet{reason, {}};
    if (why != nullptr) {
      packet.properties.reason_string = why;  // always allowed on DISCONNECT
    }
    send_packet(packet);
  }
  _sink.close_after_flush();
}

void Client::take_over() {
  mark_taken_over();
  disconnect(ReasonCode::kSessionTakenOver);  // detaches it from the session
}

Message* Client::take_will() {
  Message* will = _will;
  _will = nullptr;
  return will;
}

bool Client::fail(ReasonCode reason, const char* what) {
  broker().stats().rejected[static_cast<uint8_t>(reason)]++;
  PG_DEBUG("bad input from %s client_id=%s: %s (0x%02x): %s", _sink.peer().c_str(),
           mqtt::printable(client_id()).c_str(), mqtt::reason_name(reason),
           static_cast<unsigned>(reason), what);
  if (_sink.closing()) {
    return false;
  }
  if (_phase == Phase::kAwaitConnect || _phase == Phase::kAuthenticating) {
    // Before CONNACK: v5 gets a CONNACK with the reason; v3 a return code where one fits
    // (1: protocol level, 2: identifier, 3: server unavailable — a quota such as
    // max_connections —, 4: credentials, 5: not authorized); otherwise, and for a first
    // packet that is not CONNECT, the connection just closes.
    const bool v3_code = reason == ReasonCode::kUnsupportedProtocolVersion ||
                         reason == ReasonCode::kClientIdentifierNotValid ||
                         reason == ReasonCode::kQuotaExceeded ||
                         reason == ReasonCode::kServerUnavailable ||
                         reason == ReasonCode::kBadUserNameOrPassword ||
                         reason == ReasonCode::kNotAuthorized;
    if (_version_known && (is_v5(_version) || v3_code)) {
      send_connack(reason, nullptr, false, what);
    }
    _sink.close_after_flush();
    return false;
  }
  // After CONNACK the answer is a DISCONNECT, which may carry fewer codes than the
  // decoders return (a second CONNECT's bad protocol level says 0x84): anything it may
  // not carry is the protocol error it is [MQTT-3.1.0-2].
  disconnect(mqtt::reason_allowed(PacketType::kDisconnect, reason) ? reason
                                                                  : ReasonCode::kProtocolError,
             what);
  return false;
}

void Client::on_closed(int error) {
  if (_phase == Phase::kConnected) {
    PG_INFO("client disconnected client_id=%s error=%d", mqtt::printable(client_id()).c_str(),
            error);
    broker().client_gone(this);
    _session = nullptr;  // it may be gone too (no expiry)
  }
  _phase = Phase::kGone;
}

void Client::apply_tls_identity(const mqtt::Connect& connect) {
  const std::string& identity = _sink.peer_identity();
  if (identity.empty()) {
    return;  // no TLS, no identity asked for, or (client_auth optional) no certificate
  }
  switch (_sink.tls_identity()) {
    case net::TlsIdentity::kUsername:
      _auth_username = identity;  // like Mosquitto's use_identity_as_username
      break;
    case net::TlsIdentity::kClientId:
      if (!_client_id) {
        _client_id = identity;
        _id_assigned = connect.client_id.empty();  // told in CONNACK (v5) if it sent none
      }
      break;
    case net::TlsIdentity::kNone:
      break;
  }
}

void Client::arm_keep_alive() {
  // [MQTT-3.1.2-24]: one and a half times the keep alive; sooner if the credential
  // expires first.
  uint64_t deadline = _keep_alive != 0 ? _last_rx_ms + uint64_t{_keep_alive} * 1500 : 0;
  if (const uint64_t expires = credential_deadline_ms(); expires != 0) {
    deadline = deadline != 0 ? std::min(deadline, expires) : expires;
  }
  if (deadline == 0) {
    _sink.cancel_timer();
    return;
  }
  _sink.arm_timer(deadline);
}

void Client::on_timer() {
  const uint64_t now = _sink.now_ms();
  if (_phase == Phase::kAwaitConnect) {
    broker().stats().connect_timeout++;
    PG_DEBUG("connect timeout from %s", _sink.peer().c_str());
    _sink.close_now();
    return;
  }
  if (_phase != Phase::kConnected) {
    return;
  }
  if (const uint64_t expires = credential_deadline_ms(); expires != 0 && now >= expires) {
    broker().stats().auth_expired_disconnects++;
    PG_DEBUG("credential expired client_id=%s", mqtt::printable(client_id()).c_str());
    disconnect(ReasonCode::kMaximumConnectTime, "token expired");
    return;
  }
  const uint64_t limit = uint64_t{_keep_alive} * 1500;
  if (_keep_alive == 0 || now - _last_rx_ms < limit) {
    arm_keep_alive();  // traffic since the timer was set: re-arm lazily
    return;
  }
  broker().stats().keepalive_timeout++;
  PG_DEBUG("keep alive timeout client_id=%s", mqtt::printable(client_id()).c_str());
  disconnect(ReasonCode::kKeepAliveTimeout);
}

}  // namespace peregrine::broker
