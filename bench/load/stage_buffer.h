// The bytes a connection has staged for its next send (and, swapped, the ones in flight).
// Grows without initialising, keeps its capacity across clear(), and knows which of its
// bytes already hold copies of the connection's run PUBLISH (head and payload template):
// a publisher's run traffic is the same packet again and again but for its packet id and
// payload stamp, so a message staged where a copy already lies only rewrites those. That
// spares the generator a payload-sized copy per message (16 KiB in `large`), which is CPU
// the broker under test would otherwise share with it.
//
// Invariant: bytes [0, _images_end) are whole copies of the image, laid end to end from
// offset 0 (each with some earlier message's id and stamp). Only append_image() extends
// that prefix, only at its end; any other write into it cuts it back to the last whole
// copy before the write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace peregrine::bench {

class StageBuffer {
 public:
  const uint8_t* data() const { return _bytes.get(); }
  uint8_t* data() { return _bytes.get(); }
  size_t size() const { return _size; }
  bool empty() const { return _size == 0; }
  std::span<const uint8_t> bytes() const { return {_bytes.get(), _size}; }
  void clear() { _size = 0; }

  void append(std::span<const uint8_t> bytes) {
    if (bytes.empty()) {
      return;
    }
    uint8_t* at = grow(bytes.size());
    cut_images(static_cast<size_t>(at - _bytes.get()));
    std::memcpy(at, bytes.data(), bytes.size());
  }

  // Appends a copy of `image`, the connection's run PUBLISH, and returns where it starts;
  // the caller rewrites its per-message fields. The copy is skipped when that place
  // already holds one. A different image (another size) than before forgets the old
  // copies; a connection's image never changes content once made.
  uint8_t* append_image(std::span<const uint8_t> image) {
    if (image.size() != _image_size) {
      _image_size = image.size();
      _images_end = 0;
    }
    const size_t at = _size;
    uint8_t* out = grow(image.size());
    if (at % _image_size == 0 && at + _image_size <= _images_end) {
      return out;  // a copy lies here already
    }
    cut_images(at);
    std::memcpy(out, image.data(), image.size());
    if (at == _images_end && at % _image_size == 0) {
      _images_end = at + _image_size;
    }
    return out;
  }

 private:
  uint8_t* grow(size_t n) {
    if (_capacity - _size < n) {
      reserve_more(n);
    }
    uint8_t* at = _bytes.get() + _size;
    _size += n;
    return at;
  }

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
    cut_images(_size);  // the new allocation holds nothing past the copied bytes
  }

  // A write at `at`: the copies before it stay valid.
  void cut_images(size_t at) {
    if (at < _images_end) {
      _images_end = at - at % _image_size;
    }
  }

  std::unique_ptr<uint8_t[]> _bytes;
  size_t _size = 0;
  size_t _capacity = 0;
  size_t _image_size = 0;
  size_t _images_end = 0;
};

}  // namespace peregrine::bench
