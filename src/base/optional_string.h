// An optional string that costs one pointer when absent: per-connection and per-session
// fields that most clients never set (an authenticated username, a client id before its
// session exists) must not cost std::optional<std::string>'s 40 bytes each.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace peregrine::base {

class OptionalString {
 public:
  OptionalString() = default;
  OptionalString(std::string_view value) : _value(std::make_unique<std::string>(value)) {}
  OptionalString(const std::string& value) : _value(std::make_unique<std::string>(value)) {}
  OptionalString(const char* value) : _value(std::make_unique<std::string>(value)) {}
  OptionalString(const OptionalString& other)
      : _value(other._value ? std::make_unique<std::string>(*other._value) : nullptr) {}
  OptionalString(OptionalString&&) noexcept = default;
  OptionalString& operator=(const OptionalString& other) {
    if (this != &other) {
      _value = other._value ? std::make_unique<std::string>(*other._value) : nullptr;
    }
    return *this;
  }
  OptionalString& operator=(OptionalString&&) noexcept = default;

  bool has_value() const { return _value != nullptr; }
  explicit operator bool() const { return has_value(); }
  const std::string& operator*() const { return *_value; }
  // The value, or "" when absent.
  const std::string& value_or_empty() const {
    static const std::string kEmpty;
    return _value ? *_value : kEmpty;
  }
  std::optional<std::string_view> view() const {
    return _value ? std::optional<std::string_view>(*_value) : std::nullopt;
  }
  void reset() { _value.reset(); }

 private:
  std::unique_ptr<std::string> _value;
};

}  // namespace peregrine::base
