#include "src/base/log.h"

#include <algorithm>
#include <cctype>

#include <cstdio>
#include <ctime>
#include <string>

namespace peregrine::base {

std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};

namespace {
thread_local int t_shard = -1;

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "?";
}
}  // namespace

void set_log_level(LogLevel level) {
  g_log_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
  // Without case: "INFO" is what an operator writing a unit file often types.
  auto same = [&](std::string_view known) {
    return name.size() == known.size() &&
           std::equal(name.begin(), name.end(), known.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  for (int i = 0; i <= static_cast<int>(LogLevel::kOff); ++i) {
    if (same(level_name(static_cast<LogLevel>(i)))) {
      return static_cast<LogLevel>(i);
    }
  }
  if (same("warning")) {
    return LogLevel::kWarn;
  }
  return std::nullopt;
}

void set_log_shard(int shard) { t_shard = shard; }

void log_line(LogLevel level, const char* fmt, ...) {
  // Most lines fit the stack buffer; a longer one (the counters at shutdown) is formatted
  // again into one of its size rather than cut.
  char buffer[1024];
  std::string long_line;
  const char* message = buffer;
  va_list args;
  va_start(args, fmt);
  va_list again;
  va_copy(again, args);
  const int size = std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  if (size >= static_cast<int>(sizeof buffer)) {
    long_line.resize(static_cast<size_t>(size) + 1);
    std::vsnprintf(long_line.data(), long_line.size(), fmt, again);
    message = long_line.c_str();
  }
  va_end(again);

  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm parts{};
  gmtime_r(&now.tv_sec, &parts);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &parts);
  char shard[16] = "main";
  if (t_shard >= 0) {
    std::snprintf(shard, sizeof shard, "shard%d", t_shard);
  }
  // One fprintf per line: stdio locks the stream, so lines never interleave.
  std::fprintf(stderr, "%s.%03ldZ %-5s [%s] %s\n", stamp, now.tv_nsec / 1'000'000,
               level_name(level), shard, message);
}

}  // namespace peregrine::base
