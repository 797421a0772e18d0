#include "src/broker/session_table.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace peregrine::broker {
namespace {

// A client id whose home is `shard` of `count`.
std::string id_with_home(uint16_t shard, uint16_t count, const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string id = prefix + std::to_string(i);
    if (shard_for(id, count) == shard) {
      return id;
    }
  }
}

TEST(SessionTable, FindsBySessionNameAndIdAndNeverReusesAnId) {
  SessionTable table(0, 2);
  Session* a = table.insert(std::make_unique<Session>(nullptr, "a"));
  Session* b = table.insert(std::make_unique<Session>(nullptr, "b"));
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(table.find("a"), a);
  EXPECT_EQ(table.find(b->id), b);
  const uint64_t old_id = a->id;
  table.erase(a);
  EXPECT_EQ(table.find("a"), nullptr);
  EXPECT_EQ(table.find(old_id), nullptr);
  Session* again = table.insert(std::make_unique<Session>(nullptr, "a"));
  EXPECT_NE(again->id, old_id);
  EXPECT_EQ(table.size(), 2u);
}

TEST(SessionTable, ASessionLeavesWithItsClientAndComesBackUnderANewId) {
  SessionTable here(0, 2);
  SessionTable there(1, 2);
  Session* session = here.insert(std::make_unique<Session>(nullptr, "p"));
  std::unique_ptr<Session> travelling(here.release(session));
  EXPECT_EQ(here.find("p"), nullptr);
  EXPECT_EQ(here.find(session->id), nullptr);
  EXPECT_EQ(there.insert(std::move(travelling)), session);
  EXPECT_EQ(there.find("p"), session);
}

TEST(SessionTable, TheHomeForgetsALentSessionOnlyForItsOwnTicket) {
  SessionTable home(0, 2);
  const std::string id = id_with_home(0, 2, "pub-");
  EXPECT_TRUE(home.is_home(id));
  const uint64_t first = home.lend(id, 1);
  EXPECT_EQ(home.away(id), std::optional<uint16_t>(1));
  home.returned(id);  // it came back home ...
  EXPECT_EQ(home.away(id), std::nullopt);
  const uint64_t second = home.lend(id, 1);  // ... and left again
  EXPECT_NE(first, second);
  home.gone(first);  // the first lend's end, reported late, must not clear the second
  EXPECT_EQ(home.away(id), std::optional<uint16_t>(1));
  home.gone(second);
  EXPECT_EQ(home.away(id), std::nullopt);
  home.gone(second);  // twice: nothing left to forget
  EXPECT_EQ(home.away(id), std::nullopt);
}

TEST(SessionTable, LendingAgainReplacesTheRecordAndRetiresTheOldTicket) {
  SessionTable home(0, 3);
  const std::string id = id_with_home(0, 3, "p-");
  const uint64_t first = home.lend(id, 1);
  const uint64_t second = home.lend(id, 2);
  EXPECT_EQ(home.away(id), std::optional<uint16_t>(2));
  home.gone(first);
  EXPECT_EQ(home.away(id), std::optional<uint16_t>(2));
  home.gone(second);
  EXPECT_EQ(home.away(id), std::nullopt);
}

}  // namespace
}  // namespace peregrine::broker
