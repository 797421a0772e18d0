// The admin API's bearer token, as every HTTP listener's bridges compare it: installed by
// the main thread (at start; again on SIGHUP, so a rotated token file takes effect for
// every connection at once, keep-alive ones included), read by any shard's thread at
// each admin request.
//
// Invariant: a token once installed stays allocated for the process's life (a request on
// another shard may be comparing against it while the next is installed); tokens are
// tens of bytes and reloads are rare.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine::http {

class AdminToken {
 public:
  AdminToken() = default;
  AdminToken(const AdminToken&) = delete;
  AdminToken& operator=(const AdminToken&) = delete;

  // Any thread: the token a request must carry now ("" before the first install()).
  std::string_view current() const {
    const std::string* token = _current.load(std::memory_order_acquire);
    return token != nullptr ? std::string_view(*token) : std::string_view();
  }
  // Main thread: `token` is the one every later request must carry; true if it changed.
  bool install(std::string token) {
    if (token == current()) {
      return false;
    }
    _all.push_back(std::make_unique<std::string>(std::move(token)));
    _current.store(_all.back().get(), std::memory_order_release);
    return true;
  }

 private:
  std::atomic<const std::string*> _current{nullptr};
  std::vector<std::unique_ptr<std::string>> _all;  // main thread only; freed at exit
};

}  // namespace peregrine::http
