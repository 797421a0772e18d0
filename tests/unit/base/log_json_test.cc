// log_format = "json": each line one JSON object with the message's name=value fields.
#include <gtest/gtest.h>
#include <picojson.h>

#include <string>

#include "src/base/log.h"

namespace peregrine::base {
namespace {

picojson::object parsed(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  picojson::value value;
  const std::string error = picojson::parse(value, line);
  EXPECT_TRUE(error.empty()) << error << " in " << line;
  EXPECT_TRUE(value.is<picojson::object>());
  return value.is<picojson::object>() ? value.get<picojson::object>() : picojson::object{};
}

TEST(LogJson, FieldsComeFromTheMessagesNamesAndValues) {
  auto o = parsed(format_json_line("2026-12-07T11:00:00.000Z", LogLevel::kInfo, 1,
                                   "client connected client_id=pubber shard=1 protocol=4 "
                                   "peer=127.0.0.1:44904"));
  EXPECT_EQ(o["time"].get<std::string>(), "2026-12-07T11:00:00.000Z");
  EXPECT_EQ(o["level"].get<std::string>(), "info");
  EXPECT_EQ(o["shard"].get<double>(), 1);  // the logging shard; the message's shard=1 dropped
  EXPECT_EQ(o["event"].get<std::string>(), "client connected");
  EXPECT_EQ(o["client_id"].get<std::string>(), "pubber");
  EXPECT_EQ(o["protocol"].get<double>(), 4);
  EXPECT_EQ(o["peer"].get<std::string>(), "127.0.0.1:44904");
  EXPECT_NE(o["msg"].get<std::string>().find("client_id=pubber"), std::string::npos);
}

TEST(LogJson, MainThreadPlainMessagesAndTrailingPunctuation) {
  auto o = parsed(format_json_line("t", LogLevel::kWarn, -1, "open files: 20000"));
  EXPECT_EQ(o["shard"].get<std::string>(), "main");
  EXPECT_EQ(o["event"].get<std::string>(), "open files: 20000");
  o = parsed(format_json_line("t", LogLevel::kDebug, 0, "session client_id=a, holds 5"));
  EXPECT_EQ(o["client_id"].get<std::string>(), "a");
  EXPECT_EQ(o["event"].get<std::string>(), "session");
  o = parsed(format_json_line("t", LogLevel::kError, 0, "x id=007 n=12345678901234567890"));
  EXPECT_TRUE(o["id"].is<std::string>());  // not a JSON number: a leading zero
  EXPECT_TRUE(o["n"].is<std::string>());   // too long for an exact double
}

TEST(LogJson, AnyBytesStillMakeOneValidLine) {
  static constexpr char kNasty[] = "a\"b\\c\nd\te\x01 f=\xff\xfe g=\xc3\xa9 h=\xed\xa0\x80";
  const std::string nasty(kNasty, sizeof kNasty - 1);
  auto o = parsed(format_json_line("t", LogLevel::kInfo, 0, nasty));
  EXPECT_EQ(o["g"].get<std::string>(), "\xc3\xa9");          // valid UTF-8 kept
  EXPECT_EQ(o["f"].get<std::string>(), "\xef\xbf\xbd\xef\xbf\xbd");  // invalid bytes replaced
  EXPECT_EQ(o["h"].get<std::string>(), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
  EXPECT_NE(o["msg"].get<std::string>().find("a\"b\\c\nd\te\x01"), std::string::npos);
}

TEST(LogJson, FormatsParse) {
  EXPECT_EQ(parse_log_format("json"), LogFormat::kJson);
  EXPECT_EQ(parse_log_format("text"), LogFormat::kText);
  EXPECT_FALSE(parse_log_format("xml").has_value());
}

}  // namespace
}  // namespace peregrine::base
