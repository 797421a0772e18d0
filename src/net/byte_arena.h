// A growable byte buffer that hands out room to write into without initialising it: the
// send queue's arena of copied heads and small payloads. std::vector<uint8_t> either
// value-initialises on resize or goes through its range insert per append (together a
// sixth of the QoS 0 fast path's own instructions). Keeps its capacity across clear().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

namespace peregrine::net {

class ByteArena {
 public:
  ByteArena() = default;
  ByteArena(ByteArena&& other) noexcept
      : _bytes(std::move(other._bytes)),
        _size(std::exchange(other._size, 0)),
        _capacity(std::exchange(other._capacity, 0)) {}
  ByteArena& operator=(ByteArena&& other) noexcept {
    _bytes = std::move(other._bytes);
    _size = std::exchange(other._size, 0);
    _capacity = std::exchange(other._capacity, 0);
    return *this;
  }

  const uint8_t* data() const { return _bytes.get(); }
  size_t size() const { return _size; }
  size_t capacity() const { return _capacity; }
  void clear() { _size = 0; }

  // `n` more bytes at the end, not initialised; the pointer is valid until the next grow.
  uint8_t* grow(size_t n) {
    if (_capacity - _size < n) {
      reserve_more(n);
    }
    uint8_t* at = _bytes.get() + _size;
    _size += n;
    return at;
  }
  void append(std::span<const uint8_t> bytes) {
    std::memcpy(grow(bytes.size()), bytes.data(), bytes.size());
  }

 private:
  void reserve_more(size_t n) {
    size_t capacity = _capacity < 256 ? 256 : _capacity * 2;
    while (capacity - _size < n) {
      capacity *= 2;
    }
    auto bytes = std::make_unique_for_overwrite<uint8_t[]>(capacity);
    if (_size != 0) {
      std::memcpy(bytes.get(), _bytes.get(), _size);
    }
    _bytes = std::move(bytes);
    _capacity = capacity;
  }

  std::unique_ptr<uint8_t[]> _bytes;
  size_t _size = 0;
  size_t _capacity = 0;
};

}  // namespace peregrine::net
