// picojson::parse without its exception. Building a value from a number out of double's
// range ("1e999") makes picojson throw std::overflow_error; a file or answer we read
// (state_dir's JSON files, the admin API's answers) must come back as an error instead,
// never as an exception out of the start or a tool.
#pragma once

#include <picojson.h>

#include <exception>
#include <string>

namespace peregrine::base {

// What picojson::parse returns: "" when `text` is one JSON value, else why not.
inline std::string parse_json(picojson::value& out, const std::string& text) {
  try {
    return picojson::parse(out, text);
  } catch (const std::exception& e) {
    return std::string("not JSON: ") + e.what();
  }
}

}  // namespace peregrine::base
