#include "src/auth/strict_json.h"

#include <cmath>

namespace peregrine::auth {

namespace {

// picojson's default context with three refusals added (duplicates, non-finite numbers,
// depth counted for objects as for arrays).
class StrictContext {
 public:
  StrictContext(picojson::value* out, size_t depth, bool* refused)
      : _out(out), _depth(depth), _refused(refused) {}
  StrictContext(const StrictContext&) = delete;
  StrictContext& operator=(const StrictContext&) = delete;

  bool set_null() {
    *_out = picojson::value();
    return true;
  }
  bool set_bool(bool b) {
    *_out = picojson::value(b);
    return true;
  }
  bool set_number(double f) {
    if (!std::isfinite(f)) {
      // picojson::value would throw, and picojson ignores this call's result: say so
      // through the flag the parse is judged by.
      *_refused = true;
      *_out = picojson::value();
      return false;
    }
    *_out = picojson::value(f);
    return true;
  }
  template <typename Iter>
  bool parse_string(picojson::input<Iter>& in) {
    *_out = picojson::value(picojson::string_type, false);
    return picojson::_parse_string(_out->get<std::string>(), in);
  }
  bool parse_array_start() {
    if (_depth == 0) {
      return false;
    }
    --_depth;
    *_out = picojson::value(picojson::array_type, false);
    return true;
  }
  template <typename Iter>
  bool parse_array_item(picojson::input<Iter>& in, size_t) {
    picojson::array& a = _out->get<picojson::array>();
    a.emplace_back();
    StrictContext inner(&a.back(), _depth, _refused);
    return picojson::_parse(inner, in);
  }
  bool parse_array_stop(size_t) {
    ++_depth;
    return true;
  }
  bool parse_object_start() {
    if (_depth == 0) {
      return false;
    }
    --_depth;
    *_out = picojson::value(picojson::object_type, false);
    return true;
  }
  template <typename Iter>
  bool parse_object_item(picojson::input<Iter>& in, const std::string& key) {
    picojson::object& o = _out->get<picojson::object>();
    const auto [it, fresh] = o.try_emplace(key);
    if (!fresh) {
      return false;
    }
    StrictContext inner(&it->second, _depth, _refused);
    return picojson::_parse(inner, in);
  }
  bool parse_object_stop() {
    ++_depth;
    return true;
  }

 private:
  picojson::value* _out;
  size_t _depth;
  bool* _refused;
};

bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::optional<picojson::object> parse_strict_object(std::string_view text, size_t max_depth) {
  size_t start = 0;
  while (start < text.size() && json_space(text[start])) {
    start++;
  }
  if (start == text.size() || text[start] != '{') {
    return std::nullopt;
  }
  picojson::value value;
  bool refused = false;
  StrictContext context(&value, max_depth, &refused);
  std::string error;
  const char* end = picojson::_parse(context, text.data(), text.data() + text.size(), &error);
  if (refused || !error.empty() || !value.is<picojson::object>()) {
    return std::nullopt;
  }
  for (const char* p = end; p != text.data() + text.size(); ++p) {
    if (!json_space(*p)) {
      return std::nullopt;
    }
  }
  return std::move(value.get<picojson::object>());
}

}  // namespace peregrine::auth
