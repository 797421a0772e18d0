// The bytes a connection has staged for its next send (and, swapped, the ones in flight).
// A net::ByteArena (grows without initialising, keeps its capacity across clear()) that
// also knows which of its bytes already hold copies of the connection's run PUBLISH (head
// and payload template): a publisher's run traffic is the same packet again and again but
// for its packet id and payload stamp, so a message staged where a copy already lies only
// rewrites those. That spares the generator a payload-sized copy per message (16 KiB in
// `large`), which is CPU the broker under test would otherwise share with it.
//
// Invariant: bytes [0, _images_end) are whole copies of the image, laid end to end from
// offset 0 (each with some earlier message's id and stamp). Only append_image() extends
// that prefix, only at its end; any other write into it cuts it back to the last whole
// copy before the write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "src/net/byte_arena.h"

namespace peregrine::bench {

class StageBuffer {
 public:
  const uint8_t* data() const { return _arena.data(); }
  size_t size() const { return _arena.size(); }
  bool empty() const { return _arena.size() == 0; }
  std::span<const uint8_t> bytes() const { return {_arena.data(), _arena.size()}; }
  void clear() { _arena.clear(); }

  // Returns where the copy starts (valid until the next append).
  uint8_t* append(std::span<const uint8_t> bytes) {
    uint8_t* at = grow(bytes.size());
    cut_images(_arena.size() - bytes.size());
    if (!bytes.empty()) {
      std::memcpy(at, bytes.data(), bytes.size());
    }
    return at;
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
    const size_t at = _arena.size();
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
    const uint8_t* before = _arena.data();
    uint8_t* at = _arena.grow(n);
    if (_arena.data() != before) {
      cut_images(_arena.size() - n);  // a new allocation holds only the bytes copied over
    }
    return at;
  }

  // A write at `at`: the copies before it stay valid.
  void cut_images(size_t at) {
    if (at < _images_end) {
      _images_end = at - at % _image_size;
    }
  }

  net::ByteArena _arena;
  size_t _image_size = 0;
  size_t _images_end = 0;
};

}  // namespace peregrine::bench
