// The operator's pages as text: Prometheus exposition and the status page, from figures.
#include "src/broker/operator_report.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace peregrine::broker {
namespace {

std::vector<ShardFigures> two_shards() {
  std::vector<ShardFigures> shards(2);
  shards[0].now.stats.messages_in = 7;
  shards[1].now.stats.messages_in = 5;
  shards[1].now.stats.rejected[0x95] = 3;  // Packet too large
  shards[0].now.clients_now = 2;
  shards[1].now.clients_now = 1;
  shards[0].now.sessions_now = 4;
  shards[1].now.retained_now = 9;
  shards[1].now.retained_bytes_now = 900;
  shards[0].now.held_messages_now = 6;
  shards[0].now.held_bytes_now = 600;
  shards[0].now.queued_messages_now = 4;
  shards[0].now.queued_bytes_now = 450;
  shards[1].now.mailbox_depth_now = 17;
  shards[1].now.busy_permille = 250;
  return shards;
}

ProcessFacts facts() {
  ProcessFacts f;
  f.version = "1.2.3";
  f.io_backend = "io_uring";
  f.tls_library = "wolfSSL \"fast\"\\build";
  f.listeners = {"mqtt://0.0.0.0:1883", "http://127.0.0.1:8080"};
  f.started_unix_ms = 1'700'000'000'000;
  return f;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const std::string& l : lines_of(text)) {
    if (l == line) {
      return true;
    }
  }
  return false;
}

TEST(OperatorReport, MetricsHaveEveryCounterPerShardWithHelpAndType) {
  const std::string text = render_metrics(two_shards(), facts(), {true, false, "ready"});
  EXPECT_TRUE(has_line(text, "# TYPE peregrine_messages_in_total counter"));
  EXPECT_TRUE(has_line(text, "# HELP peregrine_messages_in_total PUBLISH received"));
  EXPECT_TRUE(has_line(text, "peregrine_messages_in_total{shard=\"0\"} 7"));
  EXPECT_TRUE(has_line(text, "peregrine_messages_in_total{shard=\"1\"} 5"));
  size_t counters = 0;
  BrokerStats{}.for_each_named([&](const char* name, const char*, uint64_t) {
    counters++;
    EXPECT_TRUE(has_line(text, "peregrine_" + std::string(name) + "_total{shard=\"1\"} " +
                                   (std::string(name) == "messages_in" ? "5" : "0")))
        << name;
  });
  EXPECT_GT(counters, 50u);
  EXPECT_TRUE(has_line(text, "peregrine_ready 1"));
  EXPECT_TRUE(has_line(text, "peregrine_shards 2"));
  EXPECT_TRUE(has_line(text, "peregrine_start_time_seconds 1700000000.000"));
}

TEST(OperatorReport, MetricsGaugesArePerShard) {
  const std::string text = render_metrics(two_shards(), facts(), {false, false, "draining"});
  EXPECT_TRUE(has_line(text, "peregrine_clients_connected{shard=\"0\"} 2"));
  EXPECT_TRUE(has_line(text, "peregrine_clients_connected{shard=\"1\"} 1"));
  EXPECT_TRUE(has_line(text, "peregrine_sessions{shard=\"0\"} 4"));
  EXPECT_TRUE(has_line(text, "peregrine_retained_messages{shard=\"1\"} 9"));
  EXPECT_TRUE(has_line(text, "peregrine_retained_bytes{shard=\"1\"} 900"));
  EXPECT_TRUE(has_line(text, "peregrine_held_messages{shard=\"0\"} 6"));
  EXPECT_TRUE(has_line(text, "peregrine_held_bytes{shard=\"0\"} 600"));
  EXPECT_TRUE(has_line(text, "peregrine_queued_messages{shard=\"0\"} 4"));
  EXPECT_TRUE(has_line(text, "peregrine_queued_bytes{shard=\"0\"} 450"));
  EXPECT_TRUE(has_line(text, "peregrine_inflight_messages{shard=\"0\"} 2"));
  EXPECT_TRUE(has_line(text, "peregrine_inflight_bytes{shard=\"0\"} 150"));
  EXPECT_TRUE(has_line(text, "peregrine_mailbox_depth{shard=\"1\"} 17"));
  EXPECT_TRUE(has_line(text, "peregrine_shard_busy_ratio{shard=\"1\"} 0.250"));
  EXPECT_TRUE(has_line(text, "peregrine_ready 0"));
}

TEST(OperatorReport, VirtualBrokersClientsAreSummedOverTheShards) {
  std::vector<ShardFigures> shards = two_shards();
  shards[0].now.broker_clients = {{"blue.acme", 1}, {"red.acme", 2}};
  shards[1].now.broker_clients = {{"red.acme", 3}};
  const std::string text = render_metrics(shards, facts(), {true, false, "ready"});
  EXPECT_NE(text.find("# TYPE peregrine_broker_clients_connected gauge\n"), std::string::npos);
  EXPECT_NE(text.find("peregrine_broker_clients_connected{broker=\"blue.acme\"} 1\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("peregrine_broker_clients_connected{broker=\"red.acme\"} 5\n"),
            std::string::npos) << text;
}

TEST(OperatorReport, RejectedReasonsOnlyThoseUsedOnEveryShard) {
  const std::string text = render_metrics(two_shards(), facts(), {true, false, "ready"});
  EXPECT_TRUE(has_line(text, "peregrine_rejected_total{shard=\"0\",reason=\"packet_too_large\"} 0"));
  EXPECT_TRUE(has_line(text, "peregrine_rejected_total{shard=\"1\",reason=\"packet_too_large\"} 3"));
  size_t rejected_samples = 0;
  for (const std::string& line : lines_of(text)) {
    if (line.starts_with("peregrine_rejected_total{")) {
      rejected_samples++;
      EXPECT_TRUE(line.ends_with("} 0") || line.ends_with("} 3")) << line;
    }
  }
  EXPECT_EQ(rejected_samples, 2u);  // one code, two shards
}

TEST(OperatorReport, LabelValuesAreEscaped) {
  const std::string text = render_metrics(two_shards(), facts(), {true, false, "ready"});
  EXPECT_NE(text.find("tls=\"wolfSSL \\\"fast\\\"\\\\build\""), std::string::npos) << text.substr(0, 400);
  EXPECT_EQ(prometheus_escape("a\nb\"c\\", true), "a\\nb\\\"c\\\\");
  EXPECT_EQ(prometheus_escape("a\nb\"c\\", false), "a\\nb\"c\\\\");
}

TEST(OperatorReport, EverySampleLineIsANameLabelsAndANumber) {
  for (const std::string& line : lines_of(render_metrics(two_shards(), facts(), {true, false, "ready"}))) {
    if (line.starts_with("#")) {
      EXPECT_TRUE(line.starts_with("# HELP peregrine_") || line.starts_with("# TYPE peregrine_"))
          << line;
      continue;
    }
    ASSERT_TRUE(line.starts_with("peregrine_")) << line;
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    const std::string value = line.substr(space + 1);
    EXPECT_FALSE(value.empty());
    EXPECT_EQ(value.find_first_not_of("0123456789."), std::string::npos) << line;
  }
}

TEST(CounterHistory, KeepsTheOldestSampleWithinAMinute) {
  CounterHistory history;
  uint64_t age = 0;
  EXPECT_EQ(history.window_start(1000, &age), nullptr);
  BrokerStats stats;
  for (uint64_t t = 0; t <= 120'000; t += 1000) {
    stats.messages_in = t / 1000;  // one message a second
    history.maybe_sample(t, stats);
  }
  const BrokerStats* start = history.window_start(120'000, &age);
  ASSERT_NE(start, nullptr);
  EXPECT_EQ(age, 60'000u);
  EXPECT_EQ(start->messages_in, 60u);
  // Samples every step, not every call.
  start = history.window_start(125'000, &age);
  ASSERT_NE(start, nullptr);
  EXPECT_EQ(age, 55'000u);
  EXPECT_EQ(start->messages_in, 70u);
}

TEST(CounterHistory, AFreshShardHasItsStartAsTheWindow) {
  CounterHistory history;
  history.maybe_sample(5000, BrokerStats{});
  uint64_t age = 0;
  ASSERT_NE(history.window_start(8000, &age), nullptr);
  EXPECT_EQ(age, 3000u);
  EXPECT_EQ(history.window_start(70'000, &age), nullptr);  // older than a minute
}

TEST(OperatorReport, StatusPageShowsTotalsRatesRefusalsAndListeners) {
  std::vector<ShardFigures> shards = two_shards();
  for (ShardFigures& shard : shards) {
    shard.window_ms = 10'000;
  }
  shards[0].now.stats.auth_token_expired = 4;  // 4 refusals in the window
  shards[0].now.stats.messages_out = 200;
  const std::string page = render_status(shards, facts(), {true, false, "ready"},
                                         facts().started_unix_ms + 90'061'000);
  EXPECT_NE(page.find("<h1>Peregrine 1.2.3</h1>"), std::string::npos);
  EXPECT_NE(page.find("id=\"uptime\">1d 01:01:01<"), std::string::npos);
  EXPECT_NE(page.find("id=\"clients\">3<"), std::string::npos);
  EXPECT_NE(page.find("id=\"sessions\">4<"), std::string::npos);
  EXPECT_NE(page.find("id=\"retained\">9<"), std::string::npos);
  EXPECT_NE(page.find("id=\"messages_in\">1.2/s<"), std::string::npos);
  EXPECT_NE(page.find("id=\"messages_out\">20.0/s<"), std::string::npos);
  EXPECT_NE(page.find("id=\"refused_auth_token_expired\">4<"), std::string::npos);
  EXPECT_NE(page.find("id=\"refused_rejected_packet_too_large\">3<"), std::string::npos);
  EXPECT_NE(page.find("<li>http://127.0.0.1:8080</li>"), std::string::npos);
  EXPECT_NE(page.find("http-equiv=\"refresh\""), std::string::npos);
  // Self-contained: nothing fetched from elsewhere.
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_NE(page.find("wolfSSL &quot;fast&quot;"), std::string::npos);
}

TEST(OperatorReport, StatusPageSaysWhyItIsNotReady) {
  const std::string page = render_status(two_shards(), facts(), {false, true, "recovering"},
                                         facts().started_unix_ms);
  EXPECT_NE(page.find("<p id=\"state\" class=\"no\">recovering</p>"), std::string::npos);
  EXPECT_NE(page.find("not a sampling step old yet"), std::string::npos);
}

}  // namespace
}  // namespace peregrine::broker
