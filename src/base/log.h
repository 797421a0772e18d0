// Logging: one line per event to stderr (journald under systemd), as text prefixed with
// time, level and shard, or as one JSON object per line (log_format = "json"). The level
// is set once at startup; a disabled level costs one relaxed load and a branch. Logging
// is for cold paths and debug-level diagnostics of bad input; nothing on the message path
// logs at info or above.
#pragma once

#include <atomic>
#include <cstdarg>
#include <optional>
#include <string>
#include <string_view>

namespace peregrine::base {

enum class LogLevel : int { kTrace = 0, kDebug = 1, kInfo = 2, kWarn = 3, kError = 4, kOff = 5 };

extern std::atomic<int> g_log_level;

inline bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= g_log_level.load(std::memory_order_relaxed);
}

void set_log_level(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view name);

enum class LogFormat : int { kText = 0, kJson = 1 };
void set_log_format(LogFormat format);
std::optional<LogFormat> parse_log_format(std::string_view name);

// One JSON line (with its newline) for a message: {"time", "level", "shard" (a number, or
// "main"), "event" (the words before the message's first name=value), "msg" (all of
// it), then each name=value of the message as a field of its own ("client_id", "peer",
// ...; numbers as numbers; a name already taken keeps its first value)}. Control
// characters and bytes that are not UTF-8 are escaped or replaced, so the line always
// parses.
std::string format_json_line(std::string_view time, LogLevel level, int shard,
                             std::string_view message);

// The shard id printed in log lines of the calling thread (-1: main thread).
void set_log_shard(int shard);

[[gnu::format(printf, 2, 3)]] void log_line(LogLevel level, const char* fmt, ...);

}  // namespace peregrine::base

#define PG_LOG(level, ...)                                          \
  do {                                                              \
    if (::peregrine::base::log_enabled(level)) {                    \
      ::peregrine::base::log_line(level, __VA_ARGS__);              \
    }                                                               \
  } while (0)

#define PG_TRACE(...) PG_LOG(::peregrine::base::LogLevel::kTrace, __VA_ARGS__)
#define PG_DEBUG(...) PG_LOG(::peregrine::base::LogLevel::kDebug, __VA_ARGS__)
#define PG_INFO(...) PG_LOG(::peregrine::base::LogLevel::kInfo, __VA_ARGS__)
#define PG_WARN(...) PG_LOG(::peregrine::base::LogLevel::kWarn, __VA_ARGS__)
#define PG_ERROR(...) PG_LOG(::peregrine::base::LogLevel::kError, __VA_ARGS__)
