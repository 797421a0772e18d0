#include "src/broker/operator_report.h"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <string_view>

#include "src/mqtt/reason_code.h"

namespace peregrine::broker {

namespace {

constexpr std::string_view kPrefix = "peregrine_";

void append_number(std::string& out, uint64_t value) { out += std::to_string(value); }

void append_double(std::string& out, double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value);
  out += text;
}

void family(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out += "# HELP ";
  out += kPrefix;
  out += name;
  out += ' ';
  out += prometheus_escape(help, false);
  out += "\n# TYPE ";
  out += kPrefix;
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, size_t shard, uint64_t value) {
  out += kPrefix;
  out += name;
  out += "{shard=\"";
  append_number(out, shard);
  out += "\"} ";
  append_number(out, value);
  out += '\n';
}

// A gauge with one sample per shard.
template <typename Field>
void shard_gauge(std::string& out, const std::vector<ShardFigures>& shards,
                 std::string_view name, std::string_view help, Field field) {
  family(out, name, "gauge", help);
  for (size_t i = 0; i < shards.size(); ++i) {
    sample(out, name, i, field(shards[i].now));
  }
}

// Counter deltas over the window all shards share (the shortest one), per second.
struct Rates {
  BrokerStats delta;
  double window_s = 0;  // 0: unknown
};

Rates rates_of(const std::vector<ShardFigures>& shards) {
  Rates rates;
  uint64_t window_ms = UINT64_MAX;
  for (const ShardFigures& shard : shards) {
    window_ms = std::min(window_ms, shard.window_ms);
  }
  if (shards.empty() || window_ms == 0) {
    return rates;
  }
  // Each shard's own window (they differ by under a sampling step): a rate per shard,
  // summed, so that a shard sampled earlier is not over-weighted.
  rates.window_s = static_cast<double>(window_ms) / 1000.0;
  for (const ShardFigures& shard : shards) {
    BrokerStats delta = shard.now.stats;
    // delta = now - window_start, counter by counter (they only grow).
#define PEREGRINE_COUNTER_SUB(name, meaning) delta.name -= shard.window_start.name;
    PEREGRINE_BROKER_COUNTERS(PEREGRINE_COUNTER_SUB)
#undef PEREGRINE_COUNTER_SUB
    for (size_t i = 0; i < delta.rejected.size(); ++i) {
      delta.rejected[i] -= shard.window_start.rejected[i];
    }
    rates.delta.add(delta);
  }
  return rates;
}

void html_escape_into(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
}

std::string uptime_text(int64_t seconds) {
  if (seconds < 0) {
    seconds = 0;
  }
  char text[64];
  std::snprintf(text, sizeof text, "%" PRId64 "d %02" PRId64 ":%02" PRId64 ":%02" PRId64,
                seconds / 86400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
  return text;
}

bool is_refusal(std::string_view name) {
  for (std::string_view word : {"refused", "denied", "dropped", "timeout", "failed", "closed",
                                "auth_token_", "auth_no_", "auth_bad_", "auth_subject_",
                                "auth_will_", "disconnects"}) {
    if (name.find(word) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string prometheus_escape(std::string_view text, bool label) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && label) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_metrics(const std::vector<ShardFigures>& shards, const ProcessFacts& facts,
                           http::Readiness readiness) {
  std::string out;
  out.reserve(16384 + shards.size() * 6144);
  family(out, "build_info", "gauge", "The running broker's version, io backend and TLS library.");
  out += kPrefix;
  out += "build_info{version=\"" + prometheus_escape(facts.version, true) + "\",io=\"" +
         prometheus_escape(facts.io_backend, true) + "\",tls=\"" +
         prometheus_escape(facts.tls_library, true) + "\"} 1\n";
  family(out, "start_time_seconds", "gauge", "When the broker started, in seconds since the epoch.");
  out += kPrefix;
  out += "start_time_seconds ";
  append_double(out, static_cast<double>(facts.started_unix_ms) / 1000.0);
  out += '\n';
  family(out, "ready", "gauge",
         "1 while the broker takes traffic (as /readyz); 0 while recovering or draining.");
  out += kPrefix;
  out += readiness.ready ? "ready 1\n" : "ready 0\n";
  family(out, "shards", "gauge", "Shards (threads) the broker runs.");
  out += kPrefix;
  out += "shards ";
  append_number(out, shards.size());
  out += '\n';

  // Counters, per shard, in the order of their one list (broker_stats.h).
  std::vector<std::vector<uint64_t>> values(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    shards[i].now.stats.for_each_named(
        [&](const char*, const char*, uint64_t value) { values[i].push_back(value); });
  }
  size_t index = 0;
  BrokerStats{}.for_each_named([&](const char* name, const char* meaning, uint64_t) {
    const std::string total = std::string(name) + "_total";
    family(out, total, "counter", meaning);
    for (size_t i = 0; i < shards.size(); ++i) {
      sample(out, total, i, values[i][index]);
    }
    index++;
  });
  // Bad input by the reason code it was answered with: only codes any shard has used.
  family(out, "rejected_total", "counter",
         "Bad input, by the MQTT reason code it was answered with.");
  for (size_t code = 0; code < 256; ++code) {
    bool used = false;
    for (const ShardFigures& shard : shards) {
      used |= shard.now.stats.rejected[code] != 0;
    }
    if (!used) {
      continue;
    }
    const char* reason = mqtt::reason_name(static_cast<mqtt::ReasonCode>(code));
    for (size_t i = 0; i < shards.size(); ++i) {
      out += kPrefix;
      out += "rejected_total{shard=\"";
      append_number(out, i);
      out += "\",reason=\"" + prometheus_escape(reason, true) + "\"} ";
      append_number(out, shards[i].now.stats.rejected[code]);
      out += '\n';
    }
  }

  shard_gauge(out, shards, "connections", "Sockets open, MQTT or not yet.",
              [](const SysSnapshot& s) { return s.connections_now; });
  shard_gauge(out, shards, "clients_connected", "MQTT clients connected (CONNACK sent).",
              [](const SysSnapshot& s) { return s.clients_now; });
  shard_gauge(out, shards, "sessions", "Sessions held, connected or not.",
              [](const SysSnapshot& s) { return s.sessions_now; });
  shard_gauge(out, shards, "subscriptions", "Subscriptions of the shard's sessions.",
              [](const SysSnapshot& s) { return s.subscriptions_now; });
  shard_gauge(out, shards, "retained_messages", "Retained messages of the topics the shard owns.",
              [](const SysSnapshot& s) { return s.retained_now; });
  shard_gauge(out, shards, "retained_bytes", "Bytes (topic and payload) of those retained messages.",
              [](const SysSnapshot& s) { return s.retained_bytes_now; });
  shard_gauge(out, shards, "held_messages",
              "QoS 1/2 messages the shard's sessions hold: queued or in flight to their clients.",
              [](const SysSnapshot& s) { return s.held_messages_now; });
  shard_gauge(out, shards, "held_bytes",
              "Bytes (topic and payload) of those held messages (against held_bytes_budget).",
              [](const SysSnapshot& s) { return s.held_bytes_now; });
  shard_gauge(out, shards, "queued_messages",
              "Held QoS 1/2 messages queued, not sent yet (the client offline, or its receive "
              "window full).",
              [](const SysSnapshot& s) { return s.queued_messages_now; });
  shard_gauge(out, shards, "queued_bytes", "Bytes (topic and payload) of those queued messages.",
              [](const SysSnapshot& s) { return s.queued_bytes_now; });
  shard_gauge(out, shards, "inflight_messages",
              "Held QoS 1/2 messages sent and awaiting their PUBACK or PUBREC.",
              [](const SysSnapshot& s) { return s.held_messages_now - s.queued_messages_now; });
  shard_gauge(out, shards, "inflight_bytes",
              "Bytes (topic and payload) of those in-flight messages.",
              [](const SysSnapshot& s) { return s.held_bytes_now - s.queued_bytes_now; });
  shard_gauge(out, shards, "mailbox_depth",
              "Mail from other shards waiting in the shard's mailboxes, not taken yet.",
              [](const SysSnapshot& s) { return s.mailbox_depth_now; });
  shard_gauge(out, shards, "mailbox_overflow",
              "Mail to other shards held back at full mailboxes (their depth past the bound).",
              [](const SysSnapshot& s) { return s.overflow_now; });
  // Each virtual broker's clients, summed over the shards (the default broker's are the
  // rest of clients_connected).
  std::map<std::string, uint64_t> by_broker;
  for (const ShardFigures& shard : shards) {
    for (const auto& [name, clients] : shard.now.broker_clients) {
      by_broker[name] += clients;
    }
  }
  family(out, "broker_clients_connected", "gauge",
         "MQTT clients connected to each virtual broker that has any.");
  for (const auto& [name, clients] : by_broker) {
    out += kPrefix;
    out += "broker_clients_connected{broker=\"" + prometheus_escape(name, true) + "\"} ";
    append_number(out, clients);
    out += '\n';
  }
  family(out, "shard_busy_ratio", "gauge",
         "Share of the last load window the shard spent working rather than waiting.");
  for (size_t i = 0; i < shards.size(); ++i) {
    out += kPrefix;
    out += "shard_busy_ratio{shard=\"";
    append_number(out, i);
    out += "\"} ";
    append_double(out, static_cast<double>(shards[i].now.busy_permille) / 1000.0);
    out += '\n';
  }
  return out;
}

std::string render_status(const std::vector<ShardFigures>& shards, const ProcessFacts& facts,
                          http::Readiness readiness, int64_t now_unix_ms) {
  SysSnapshot total;
  for (const ShardFigures& shard : shards) {
    total.stats.add(shard.now.stats);
    total.clients_now += shard.now.clients_now;
    total.connections_now += shard.now.connections_now;
    total.sessions_now += shard.now.sessions_now;
    total.subscriptions_now += shard.now.subscriptions_now;
    total.retained_now += shard.now.retained_now;
    total.retained_bytes_now += shard.now.retained_bytes_now;
    total.held_messages_now += shard.now.held_messages_now;
    total.held_bytes_now += shard.now.held_bytes_now;
    total.queued_messages_now += shard.now.queued_messages_now;
  }
  const Rates rates = rates_of(shards);
  std::string out;
  out.reserve(8192);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"5\">"
      "<meta name=\"viewport\" content=\"width=device-width\">"
      "<title>Peregrine status</title><style>"
      "body{font:15px/1.4 system-ui,sans-serif;margin:2em;color:#1d2433}"
      "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}"
      "table{border-collapse:collapse}td,th{padding:.2em 1.2em .2em 0;text-align:left}"
      "td.n{text-align:right;font-variant-numeric:tabular-nums}"
      ".ok{color:#176b2c}.no{color:#a31616}.dim{color:#667}"
      "</style></head><body>\n";
  out += "<h1>Peregrine ";
  html_escape_into(out, facts.version);
  out += "</h1>\n<p id=\"state\" class=\"";
  out += readiness.ready ? "ok\">ready" : "no\">";
  if (!readiness.ready) {
    html_escape_into(out, readiness.why);
  }
  out += "</p>\n<table id=\"facts\">";
  auto row = [&](std::string_view id, std::string_view label, const std::string& value) {
    out += "<tr><th>";
    html_escape_into(out, label);
    out += "</th><td class=\"n\" id=\"";
    out += id;
    out += "\">";
    html_escape_into(out, value);
    out += "</td></tr>";
  };
  row("uptime", "Uptime", uptime_text((now_unix_ms - facts.started_unix_ms) / 1000));
  row("shards", "Shards", std::to_string(shards.size()));
  row("io", "io backend", facts.io_backend);
  row("tls", "TLS", facts.tls_library);
  row("connections", "Connections", std::to_string(total.connections_now));
  row("clients", "Clients connected", std::to_string(total.clients_now));
  row("sessions", "Sessions", std::to_string(total.sessions_now));
  row("subscriptions", "Subscriptions", std::to_string(total.subscriptions_now));
  row("retained", "Retained messages", std::to_string(total.retained_now));
  row("queued", "QoS 1/2 messages queued", std::to_string(total.queued_messages_now));
  row("inflight", "QoS 1/2 messages in flight",
      std::to_string(total.held_messages_now - total.queued_messages_now));
  out += "</table>\n<h2>Last minute</h2>\n";
  if (rates.window_s == 0) {
    out += "<p class=\"dim\" id=\"rates\">not a sampling step old yet</p>\n";
  } else {
    char window[64];
    std::snprintf(window, sizeof window, "over the last %.0f s", rates.window_s);
    out += "<p class=\"dim\">";
    out += window;
    out += "</p><table id=\"rates\">";
    auto rate = [&](std::string_view id, std::string_view label, uint64_t delta) {
      char text[32];
      std::snprintf(text, sizeof text, "%.1f/s", static_cast<double>(delta) / rates.window_s);
      row(id, label, text);
    };
    rate("messages_in", "Messages in", rates.delta.messages_in);
    rate("messages_out", "Messages out", rates.delta.messages_out);
    rate("bytes_in", "Bytes in", rates.delta.bytes_in);
    rate("bytes_out", "Bytes out", rates.delta.bytes_out);
    rate("connects", "Clients connecting", rates.delta.clients_connected);
    out += "</table>\n";
  }
  out += "<h2>Refusals in the last minute</h2>\n<table id=\"refusals\">";
  size_t refusals = 0;
  if (rates.window_s != 0) {
    rates.delta.for_each([&](const std::string& name, uint64_t delta) {
      if (delta != 0 && (name.starts_with("rejected_") || is_refusal(name))) {
        refusals++;
        row("refused_" + name, name, std::to_string(delta));
      }
    });
  }
  out += "</table>\n";
  if (refusals == 0) {
    out += "<p class=\"dim\">none</p>\n";
  }
  out += "<h2>Listeners</h2>\n<ul id=\"listeners\">";
  for (const std::string& url : facts.listeners) {
    out += "<li>";
    html_escape_into(out, url);
    out += "</li>";
  }
  out += "</ul>\n<p class=\"dim\">Refreshes every 5 s. Metrics: <a href=\"/metrics\">/metrics</a>."
         "</p>\n</body></html>\n";
  return out;
}

}  // namespace peregrine::broker
