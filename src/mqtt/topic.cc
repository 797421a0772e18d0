// Topic name and filter syntax (spec §4.7) and shared subscription names (§4.8.2).
#include <string_view>

#include "src/mqtt/codec.h"
#include "src/mqtt/scope.h"
#include "src/mqtt/utf8.h"

namespace peregrine::mqtt {

namespace {

constexpr std::string_view kSharePrefix = "$share/";

// Filter syntax without the $share/ form.
bool valid_plain_filter(std::string_view filter) { return filter_syntax_fault(filter) == nullptr; }

}  // namespace

const char* filter_syntax_fault(std::string_view filter) {
  if (filter.empty()) {
    return "empty topic filter [MQTT-4.7.3-1]";
  }
  const size_t n = filter.size();
  for (size_t i = 0; i < n; ++i) {
    const char c = filter[i];
    const bool level_start = i == 0 || filter[i - 1] == '/';
    const bool level_end = i + 1 == n || filter[i + 1] == '/';
    if (c == '#' && (!level_start || i + 1 != n)) {
      return "'#' not alone in the last level of a topic filter [MQTT-4.7.1-1]";
    }
    if (c == '+' && (!level_start || !level_end)) {
      return "'+' not alone in its level of a topic filter [MQTT-4.7.1-2]";
    }
  }
  return nullptr;
}

bool valid_topic_name(std::string_view topic) {
  // Non-empty [MQTT-4.7.3-1], UTF-8, and no wildcards [MQTT-3.3.2-2].
  return !topic.empty() && scan_topic_name(topic) == ReasonCode::kSuccess;
}

bool valid_topic_filter(std::string_view filter) {
  if (!valid_utf8(filter)) {
    return false;
  }
  if (!filter.starts_with(kSharePrefix)) {
    return valid_plain_filter(filter);
  }
  std::string_view group;
  std::string_view inner;
  if (!parse_shared_filter(filter, group, inner)) {
    return false;
  }
  // The ShareName must be non-empty and hold no '/', '+' or '#' [MQTT-4.8.2-1..2].
  if (group.empty() || group.find_first_of("+#") != std::string_view::npos) {
    return false;
  }
  return valid_plain_filter(inner);
}

bool parse_shared_filter(std::string_view filter, std::string_view& group,
                         std::string_view& inner) {
  if (!filter.starts_with(kSharePrefix)) {
    return false;
  }
  const std::string_view rest = filter.substr(kSharePrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return false;
  }
  group = rest.substr(0, slash);
  inner = rest.substr(slash + 1);
  return true;
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  // A virtual broker's topic (scope.h): only a filter of the same scope reaches it, and
  // the `$` rule holds at the level after the scope.
  if (const size_t scope = scope_length(topic); scope != 0) {
    if (filter.size() < scope || filter.substr(0, scope) != topic.substr(0, scope)) {
      return false;
    }
    filter.remove_prefix(scope);
    topic.remove_prefix(scope);
  }
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  size_t f = 0;
  size_t t = 0;
  while (true) {
    const size_t f_end = filter.find('/', f);
    const std::string_view level =
        filter.substr(f, f_end == std::string_view::npos ? std::string_view::npos : f_end - f);
    if (level == "#") {
      return true;  // also matches the parent level itself
    }
    const size_t t_end = topic.find('/', t);
    const std::string_view part =
        topic.substr(t, t_end == std::string_view::npos ? std::string_view::npos : t_end - t);
    if (level != "+" && level != part) {
      return false;
    }
    const bool filter_last = f_end == std::string_view::npos;
    const bool topic_last = t_end == std::string_view::npos;
    if (filter_last || topic_last) {
      if (filter_last && topic_last) {
        return true;
      }
      // "a/#" matches "a": the filter has one more level and it is '#'.
      return topic_last && !filter_last && filter.substr(f_end + 1) == "#";
    }
    f = f_end + 1;
    t = t_end + 1;
  }
}

bool filter_covers(std::string_view outer, std::string_view inner) {
  if (const size_t scope = scope_length(inner); scope != 0) {
    if (outer.size() < scope || outer.substr(0, scope) != inner.substr(0, scope)) {
      return false;
    }
    outer.remove_prefix(scope);
    inner.remove_prefix(scope);
  }
  if (!inner.empty() && inner.front() == '$' && !outer.empty() &&
      (outer.front() == '+' || outer.front() == '#')) {
    return false;  // [MQTT-4.7.2-1]: a leading wildcard matches no $ topic
  }
  size_t o = 0;
  size_t i = 0;
  while (true) {
    const size_t o_end = outer.find('/', o);
    const std::string_view level =
        outer.substr(o, o_end == std::string_view::npos ? std::string_view::npos : o_end - o);
    if (level == "#") {
      return true;
    }
    const size_t i_end = inner.find('/', i);
    const std::string_view part =
        inner.substr(i, i_end == std::string_view::npos ? std::string_view::npos : i_end - i);
    if (part == "#" || (level != "+" && (part == "+" || level != part))) {
      return false;  // inner reaches topics this level of outer does not
    }
    const bool outer_last = o_end == std::string_view::npos;
    const bool inner_last = i_end == std::string_view::npos;
    if (outer_last || inner_last) {
      if (outer_last && inner_last) {
        return true;
      }
      return inner_last && outer.substr(o_end + 1) == "#";
    }
    o = o_end + 1;
    i = i_end + 1;
  }
}

}  // namespace peregrine::mqtt
