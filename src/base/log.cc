#include "src/base/log.h"

#include <algorithm>
#include <cctype>

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace peregrine::base {

std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};

namespace {
thread_local int t_shard = -1;
std::atomic<int> g_log_format{static_cast<int>(LogFormat::kText)};

// `text` as the inside of a JSON string: quotes, backslashes and control characters
// escaped; a byte that does not start or continue a valid UTF-8 sequence becomes U+FFFD.
void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
      i++;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      i++;
    } else {
      // The length a lead byte announces, and the range its second byte must be in
      // (no overlong forms, no surrogates, nothing past U+10FFFF).
      size_t length = 0;
      unsigned char low = 0x80, high = 0xbf;
      if (c >= 0xc2 && c <= 0xdf) {
        length = 2;
      } else if (c >= 0xe0 && c <= 0xef) {
        length = 3;
        low = c == 0xe0 ? 0xa0 : 0x80;
        high = c == 0xed ? 0x9f : 0xbf;
      } else if (c >= 0xf0 && c <= 0xf4) {
        length = 4;
        low = c == 0xf0 ? 0x90 : 0x80;
        high = c == 0xf4 ? 0x8f : 0xbf;
      }
      bool valid = length != 0 && i + length <= text.size();
      for (size_t k = 1; valid && k < length; ++k) {
        const auto next = static_cast<unsigned char>(text[i + k]);
        valid = k == 1 ? next >= low && next <= high : next >= 0x80 && next <= 0xbf;
      }
      if (valid) {
        out.append(text.substr(i, length));
        i += length;
      } else {
        out += "\xef\xbf\xbd";  // U+FFFD
        i++;
      }
    }
  }
  out += '"';
}

bool is_field_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

bool is_number(std::string_view value) {
  if (value.empty() || value.size() > 18 || (value.size() > 1 && value[0] == '0')) {
    return false;
  }
  for (char c : value) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

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

void set_log_format(LogFormat format) {
  g_log_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") {
    return LogFormat::kText;
  }
  if (name == "json") {
    return LogFormat::kJson;
  }
  return std::nullopt;
}

std::string format_json_line(std::string_view time, LogLevel level, int shard,
                             std::string_view message) {
  std::string out;
  out.reserve(message.size() * 2 + 96);
  out += "{\"time\":";
  append_json_string(out, time);
  out += ",\"level\":";
  append_json_string(out, level_name(level));
  out += ",\"shard\":";
  if (shard >= 0) {
    out += std::to_string(shard);
  } else {
    out += "\"main\"";
  }
  // name=value words: fields of their own; the words before the first are the event.
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  size_t event_end = std::string_view::npos;
  for (size_t pos = 0; pos < message.size();) {
    const size_t space = message.find(' ', pos);
    const std::string_view word =
        message.substr(pos, space == std::string_view::npos ? std::string_view::npos : space - pos);
    const size_t eq = word.find('=');
    if (eq != std::string_view::npos && is_field_name(word.substr(0, eq))) {
      if (event_end == std::string_view::npos) {
        event_end = pos;
      }
      std::string_view value = word.substr(eq + 1);
      while (!value.empty() && (value.back() == ',' || value.back() == ':' || value.back() == ';')) {
        value.remove_suffix(1);  // "id=7," in a sentence
      }
      fields.emplace_back(word.substr(0, eq), value);
    }
    if (space == std::string_view::npos) {
      break;
    }
    pos = space + 1;
  }
  std::string_view event = message.substr(0, event_end);
  while (!event.empty() && (event.back() == ' ' || event.back() == ':')) {
    event.remove_suffix(1);
  }
  out += ",\"event\":";
  append_json_string(out, event);
  out += ",\"msg\":";
  append_json_string(out, message);
  std::vector<std::string_view> taken = {"time", "level", "shard", "event", "msg"};
  for (const auto& [name, value] : fields) {
    if (std::find(taken.begin(), taken.end(), name) != taken.end()) {
      continue;
    }
    taken.push_back(name);
    out += ',';
    append_json_string(out, name);
    out += ':';
    if (is_number(value)) {
      out.append(value);
    } else {
      append_json_string(out, value);
    }
  }
  out += "}\n";
  return out;
}

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
  if (g_log_format.load(std::memory_order_relaxed) == static_cast<int>(LogFormat::kJson)) {
    char time[48];
    std::snprintf(time, sizeof time, "%s.%03ldZ", stamp, now.tv_nsec / 1'000'000);
    const std::string line = format_json_line(time, level, t_shard, message);
    std::fwrite(line.data(), 1, line.size(), stderr);  // one call: stdio locks the stream
    return;
  }
  char shard[16] = "main";
  if (t_shard >= 0) {
    std::snprintf(shard, sizeof shard, "shard%d", t_shard);
  }
  // One fprintf per line: stdio locks the stream, so lines never interleave.
  std::fprintf(stderr, "%s.%03ldZ %-5s [%s] %s\n", stamp, now.tv_nsec / 1'000'000,
               level_name(level), shard, message);
}

}  // namespace peregrine::base
