// UTF-8 validity [MQTT-1.5.4], topic name and filter syntax (§4.7), shared subscriptions
// (§4.8.2), and the reason code helpers.
#include <set>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "src/mqtt/codec.h"
#include "src/mqtt/reason_code.h"
#include "src/mqtt/utf8.h"

namespace peregrine::mqtt {
namespace {

using namespace std::string_view_literals;

struct Utf8Case {
  const char* name;
  std::string_view text;
  bool valid;
};

const Utf8Case kUtf8Cases[] = {
    {"empty", ""sv, true},
    {"ascii", "hello/world"sv, true},
    {"ascii_long_fast_path", "abcdefghijklmnopqrstuvwxyz0123456789"sv, true},
    {"two_byte", "\xC3\xA9"sv, true},
    {"three_byte", "\xE2\x82\xAC"sv, true},
    {"four_byte", "\xF0\x9F\x98\x80"sv, true},
    {"max_code_point", "\xF4\x8F\xBF\xBF"sv, true},
    {"noncharacter_allowed", "\xEF\xBF\xBF"sv, true},  // U+FFFF [MQTT-1.5.4-3]
    {"last_before_surrogates", "\xED\x9F\xBF"sv, true},
    {"first_after_surrogates", "\xEE\x80\x80"sv, true},
    {"nul", "a\0b"sv, false},
    {"nul_in_fast_path", "abcdefg\0hijklmno"sv, false},
    {"nul_alone", "\0"sv, false},
    {"overlong_nul", "\xC0\x80"sv, false},
    {"overlong_two_byte", "\xC1\xBF"sv, false},
    {"overlong_three_byte", "\xE0\x9F\xBF"sv, false},
    {"overlong_four_byte", "\xF0\x8F\xBF\xBF"sv, false},
    {"surrogate_low_end", "\xED\xA0\x80"sv, false},   // U+D800
    {"surrogate_high_end", "\xED\xBF\xBF"sv, false},  // U+DFFF
    {"above_10ffff", "\xF4\x90\x80\x80"sv, false},
    {"lead_f5", "\xF5\x80\x80\x80"sv, false},
    {"lead_ff", "\xFF"sv, false},
    {"stray_continuation", "a\x80"sv, false},
    {"truncated_two_byte", "\xC3"sv, false},
    {"truncated_three_byte", "\xE2\x82"sv, false},
    {"truncated_four_byte", "\xF0\x9F\x98"sv, false},
    {"bad_continuation", "\xE2\x28\xA1"sv, false},
    {"high_byte_after_fast_path", "abcdefgh\xC3\xA9ijklmnop\xFF"sv, false},
};

TEST(Utf8, ValidityTable) {
  for (const Utf8Case& c : kUtf8Cases) {
    EXPECT_EQ(valid_utf8(c.text), c.valid) << c.name;
  }
}

TEST(TopicName, Table) {
  const std::pair<std::string_view, bool> cases[] = {
      {"a", true},           {"a/b/c", true},      {"/", true},      {"//", true},
      {"$SYS/broker", true}, {" ", true},          {"\xC3\xA9", true},
      {"", false},           {"+", false},         {"#", false},     {"a/+/b", false},
      {"a/#", false},        {"a+b", false},       {"a#", false},    {"a\0b"sv, false},
      {"\xFF", false},
      // Long enough for the eight-bytes-at-a-time scan.
      {"abcdefghijklmnopqrstuvwxyz/0123", true},
      {"abcdefgh+ijklmnop", false},
      {"abcdefghijklmno#", false},
      {"abc/defg/\xC3\xA9/hijklmnop", true},
      {"abcdefghijklmnop\0"sv, false},
  };
  for (const auto& [topic, valid] : cases) {
    EXPECT_EQ(valid_topic_name(topic), valid) << topic;
  }
}

// scan_topic_name() reads words, the last one overlapping what it already read: a
// wildcard, a U+0000, a two-byte character or a stray continuation byte at every
// position of every length up to three words gives the answer a byte-by-byte reading
// gives (ill-formed UTF-8 or U+0000 first, then a wildcard).
TEST(TopicName, ScanFindsEachFaultAtEveryPositionOfEveryLength) {
  const std::string_view kInserts[] = {"+"sv, "#"sv, "\0"sv, "\xC3\xA9"sv, "\x80"sv};
  for (size_t length = 1; length <= 24; ++length) {
    for (std::string_view insert : kInserts) {
      for (size_t at = 0; at + insert.size() <= length; ++at) {
        std::string topic(length, 'a');
        topic.replace(at, insert.size(), insert);
        ReasonCode expected = ReasonCode::kSuccess;
        if (!well_formed_utf8(topic) || topic.find('\0') != std::string::npos) {
          expected = ReasonCode::kMalformedPacket;
        } else if (topic.find_first_of("+#") != std::string::npos) {
          expected = ReasonCode::kTopicNameInvalid;
        }
        EXPECT_EQ(scan_topic_name(topic), expected)
            << "length " << length << " at " << at << " insert " << testing::PrintToString(
                   std::string(insert));
      }
    }
  }
}

TEST(TopicName, SysTree) {
  const std::pair<std::string_view, bool> cases[] = {
      {"$SYS", true},   {"$SYS/broker/uptime", true}, {"$SYSTEM", true},
      {"", false},      {"$", false},                 {"$SY", false},
      {"$sys/x", false}, {"a/$SYS", false},           {"$share/g/t", false},
  };
  for (const auto& [topic, sys] : cases) {
    EXPECT_EQ(is_sys_topic(topic), sys) << topic;
  }
}

TEST(TopicFilter, Table) {
  const std::pair<std::string_view, bool> cases[] = {
      {"a", true},
      {"#", true},
      {"+", true},
      {"a/#", true},
      {"a/+", true},
      {"+/+", true},
      {"/+", true},
      {"+/", true},
      {"a/+/b/#", true},
      {"/", true},
      {"$SYS/#", true},
      {"", false},
      {"a#", false},
      {"a/#/b", false},
      {"#/", false},
      {"a/b#", false},
      {"a+", false},
      {"+a", false},
      {"a/+b/c", false},
      {"##", false},
      {"++", false},
      {"a\0b"sv, false},
      {"\xED\xA0\x80", false},
      {"$share/g/a/#", true},
      {"$share/g/+", true},
      {"$share/g//", true},
      {"$share/g/", false},     // empty inner filter
      {"$share//a", false},     // empty group
      {"$share/g", false},      // no inner filter at all
      {"$share/g+/a", false},   // wildcard in group
      {"$share/g#/a", false},
      {"$share/g/a#", false},   // invalid inner filter
      {"$shared/g/a", true},    // not a shared subscription, just a topic
      {"$share", true},
  };
  for (const auto& [filter, valid] : cases) {
    EXPECT_EQ(valid_topic_filter(filter), valid) << filter;
  }
}

// The syntax every filter has (§4.7), which closes the connection when broken, against
// the shared-subscription rules that are answered in SUBACK instead.
TEST(TopicFilter, SyntaxFaultsSayWhichRule) {
  EXPECT_STREQ(filter_syntax_fault(""), "empty topic filter [MQTT-4.7.3-1]");
  EXPECT_NE(std::string_view(filter_syntax_fault("a/#b")).find("MQTT-4.7.1-1"),
            std::string_view::npos);
  EXPECT_NE(std::string_view(filter_syntax_fault("ab/+e")).find("MQTT-4.7.1-2"),
            std::string_view::npos);
  for (std::string_view bad : {"a#", "a/#/b", "#/", "a+", "+a", "##", "$share/g+/a",
                               "$share/g/a#"}) {
    EXPECT_NE(filter_syntax_fault(bad), nullptr) << bad;
    EXPECT_FALSE(valid_topic_filter(bad)) << bad;
  }
  for (std::string_view shared_only : {"$share//a", "$share/g", "$share/g/"}) {
    EXPECT_EQ(filter_syntax_fault(shared_only), nullptr) << shared_only;
    EXPECT_FALSE(valid_topic_filter(shared_only)) << shared_only;
  }
  for (std::string_view good : {"#", "+", "a/+/b/#", "/", "$share/g/a/#"}) {
    EXPECT_EQ(filter_syntax_fault(good), nullptr) << good;
  }
}

TEST(SharedFilter, Parsing) {
  std::string_view group;
  std::string_view inner;
  ASSERT_TRUE(parse_shared_filter("$share/workers/jobs/+/new", group, inner));
  EXPECT_EQ(group, "workers");
  EXPECT_EQ(inner, "jobs/+/new");
  ASSERT_TRUE(parse_shared_filter("$share/g/#", group, inner));
  EXPECT_EQ(group, "g");
  EXPECT_EQ(inner, "#");
  ASSERT_TRUE(parse_shared_filter("$share//x", group, inner));  // split, though invalid
  EXPECT_EQ(group, "");
  EXPECT_EQ(inner, "x");
  EXPECT_FALSE(parse_shared_filter("$share/g", group, inner));
  EXPECT_FALSE(parse_shared_filter("$share", group, inner));
  EXPECT_FALSE(parse_shared_filter("$SHARE/g/a", group, inner));
  EXPECT_FALSE(parse_shared_filter("a/$share/g/a", group, inner));
}

TEST(ReasonCode, ToConnackV3) {
  EXPECT_EQ(to_connack_v3(ReasonCode::kSuccess), ConnackV3::kAccepted);
  EXPECT_EQ(to_connack_v3(ReasonCode::kUnsupportedProtocolVersion),
            ConnackV3::kUnacceptableProtocolVersion);
  EXPECT_EQ(to_connack_v3(ReasonCode::kClientIdentifierNotValid),
            ConnackV3::kIdentifierRejected);
  EXPECT_EQ(to_connack_v3(ReasonCode::kServerUnavailable), ConnackV3::kServerUnavailable);
  EXPECT_EQ(to_connack_v3(ReasonCode::kServerBusy), ConnackV3::kServerUnavailable);
  EXPECT_EQ(to_connack_v3(ReasonCode::kBadUserNameOrPassword),
            ConnackV3::kBadUserNameOrPassword);
  EXPECT_EQ(to_connack_v3(ReasonCode::kNotAuthorized), ConnackV3::kNotAuthorized);
  EXPECT_EQ(to_connack_v3(ReasonCode::kBanned), ConnackV3::kNotAuthorized);
}

TEST(ReasonCode, NamesAndErrors) {
  EXPECT_STREQ(reason_name(ReasonCode::kMalformedPacket), "malformed_packet");
  EXPECT_STREQ(reason_name(ReasonCode::kSuccess), "success");
  EXPECT_STREQ(reason_name(ReasonCode::kWildcardSubscriptionsNotSupported),
               "wildcard_subscriptions_not_supported");
  EXPECT_STREQ(reason_name(static_cast<ReasonCode>(0x03)), "unknown");
  // Every named code has a distinct name.
  std::set<std::string> names;
  int named = 0;
  for (int code = 0; code < 256; ++code) {
    const std::string name = reason_name(static_cast<ReasonCode>(code));
    if (name != "unknown") {
      ++named;
      names.insert(name);
    }
  }
  EXPECT_EQ(named, 43);
  EXPECT_EQ(names.size(), 43u);
  EXPECT_TRUE(is_error(ReasonCode::kUnspecifiedError));
  EXPECT_FALSE(is_error(ReasonCode::kGrantedQos2));
}

TEST(FilterCovers, Table) {
  struct Row {
    const char* outer;
    const char* inner;
    bool covers;
  };
  const Row rows[] = {
      {"#", "a/b", true},           {"#", "#", true},           {"#", "+/x", true},
      {"a/#", "a", true},           {"a/#", "a/+", true},       {"a/#", "a/#", true},
      {"a/#", "b/#", false},        {"a/+", "a/b", true},       {"a/+", "a/+", true},
      {"a/+", "a/#", false},        {"a/+", "a/b/c", false},    {"a/b", "a/+", false},
      {"a/b", "a/b", true},         {"a/b", "a", false},        {"a", "a/b", false},
      {"+/b", "+/b", true},         {"+", "a", true},           {"+", "#", false},
      {"#", "$SYS/x", false},       {"+/x", "$SYS/x", false},   {"$SYS/#", "$SYS/x", true},
      {"a/+/c", "a/b/c", true},     {"a/+/c", "a/+/+", false},  {"a//b", "a/+/b", false},
      {"a/+/#", "a/x", true},       {"a/b/#", "a/#", false},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(filter_covers(row.outer, row.inner), row.covers) << row.outer << " over " << row.inner;
    // What a filter covers it also matches, read as a topic without wildcards.
    if (row.covers && std::string_view(row.inner).find_first_of("+#") == std::string_view::npos) {
      EXPECT_TRUE(topic_matches(row.outer, row.inner)) << row.outer << " " << row.inner;
    }
  }
}

}  // namespace
}  // namespace peregrine::mqtt
