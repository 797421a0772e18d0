#include "src/net/out_queue.h"

#include <algorithm>
#include <cstring>

#include "src/base/assert.h"

namespace peregrine::net {

OutQueue::~OutQueue() { clear(); }

void OutQueue::Generation::release() {
  for (size_t i = first; i < segments.size(); ++i) {
    if (segments[i].owner != nullptr) {
      segments[i].owner->unref();
    }
  }
  segments.clear();
  arena.clear();
  first = 0;
  marks.clear();
  next_mark = 0;
  consumed = 0;
}

void OutQueue::clear() {
  _pending.release();
  _inflight.release();
  _pending_bytes = 0;
  _inflight_bytes = 0;
}

void OutQueue::append_copy(std::span<const uint8_t> bytes) {
  if (bytes.empty()) {
    return;
  }
  const auto offset = static_cast<uint32_t>(_pending.arena.size());
  _pending.arena.append(bytes);
  note_copied(offset, bytes.size());
}

void OutQueue::append_copy(std::span<const uint8_t> first, std::span<const uint8_t> second) {
  const size_t n = first.size() + second.size();
  if (n == 0) {
    return;
  }
  const auto offset = static_cast<uint32_t>(_pending.arena.size());
  uint8_t* at = _pending.arena.grow(n);
  if (!first.empty()) {
    std::memcpy(at, first.data(), first.size());
  }
  if (!second.empty()) {
    std::memcpy(at + first.size(), second.data(), second.size());
  }
  note_copied(offset, n);
}

void OutQueue::note_copied(uint32_t offset, size_t n) {
  auto& gen = _pending;
  // Adjacent copies merge into one segment: fewer iovecs.
  if (!gen.segments.empty() && gen.segments.back().owner == nullptr &&
      gen.segments.back().offset + gen.segments.back().length == offset) {
    gen.segments.back().length += static_cast<uint32_t>(n);
  } else {
    gen.segments.push_back({nullptr, nullptr, offset, static_cast<uint32_t>(n)});
  }
  _pending_bytes += n;
}

void OutQueue::append_shared(io::SharedBuffer* owner, std::span<const uint8_t> bytes) {
  if (bytes.empty()) {
    return;
  }
  if (copies(bytes.size())) {
    append_copy(bytes);
    return;
  }
  owner->ref();
  _pending.segments.push_back({owner, bytes.data(), 0, static_cast<uint32_t>(bytes.size())});
  _pending_bytes += bytes.size();
}

size_t OutQueue::retained_bytes() const {
  return (_pending.segments.capacity() + _inflight.segments.capacity()) * sizeof(Segment) +
         _pending.arena.capacity() + _inflight.arena.capacity() +
         _iov.capacity() * sizeof(iovec);
}

void OutQueue::move_pending_to(OutQueue& to) {
  PG_ASSERT(&to != this);
  for (size_t i = _pending.first; i < _pending.segments.size(); ++i) {
    const Segment& seg = _pending.segments[i];
    if (seg.owner == nullptr) {
      to.append_copy(std::span<const uint8_t>(_pending.arena.data() + seg.offset, seg.length));
    } else {
      to._pending.segments.push_back(seg);  // the reference moves along
      to._pending_bytes += seg.length;
    }
  }
  _pending.segments.clear();  // references moved: not released here
  _pending.arena.clear();
  _pending.first = 0;
  _pending.marks.clear();  // the layer below marks its own frames
  _pending.next_mark = 0;
  _pending_bytes = 0;
}

std::span<const iovec> OutQueue::prepare_send() {
  if (!has_inflight()) {
    if (!has_pending()) {
      return {};
    }
    std::swap(_pending, _inflight);
    _inflight_bytes = _pending_bytes;
    _pending_bytes = 0;
  }
  _iov.clear();
  const auto& gen = _inflight;
  for (size_t i = gen.first; i < gen.segments.size() && _iov.size() < kMaxIov; ++i) {
    const Segment& seg = gen.segments[i];
    const uint8_t* base = seg.owner != nullptr ? seg.data : gen.arena.data() + seg.offset;
    _iov.push_back({const_cast<uint8_t*>(base), seg.length});
  }
  return _iov;
}

void OutQueue::consume(size_t n) {
  PG_ASSERT(n <= _inflight_bytes);
  _inflight_bytes -= n;
  auto& gen = _inflight;
  gen.consumed += n;
  while (n > 0) {
    PG_ASSERT(gen.first < gen.segments.size());
    Segment& seg = gen.segments[gen.first];
    if (n < seg.length) {
      // Partly sent: the rest stays in flight for the next send.
      if (seg.owner != nullptr) {
        seg.data += n;
      } else {
        seg.offset += static_cast<uint32_t>(n);
      }
      seg.length -= static_cast<uint32_t>(n);
      return;
    }
    n -= seg.length;
    if (seg.owner != nullptr) {
      seg.owner->unref();
    }
    ++gen.first;
  }
  if (gen.first == gen.segments.size()) {
    gen.release();  // every reference was dropped as its segment was sent
  }
}

size_t OutQueue::cut_inflight() {
  auto& gen = _inflight;
  const auto mark = std::lower_bound(gen.marks.begin(), gen.marks.end(), gen.consumed);
  if (mark == gen.marks.end()) {
    return 0;  // no packet starts in what is left: it goes whole
  }
  size_t keep = *mark - gen.consumed;
  PG_ASSERT(keep <= _inflight_bytes);
  const size_t dropped = _inflight_bytes - keep;
  size_t i = gen.first;
  for (; i < gen.segments.size() && keep > 0; ++i) {
    Segment& seg = gen.segments[i];
    if (keep < seg.length) {
      seg.length = static_cast<uint32_t>(keep);  // the packet before the mark ends here
      keep = 0;
    } else {
      keep -= seg.length;
    }
  }
  for (size_t j = i; j < gen.segments.size(); ++j) {
    if (gen.segments[j].owner != nullptr) {
      gen.segments[j].owner->unref();
    }
  }
  gen.segments.resize(i);
  gen.marks.erase(mark, gen.marks.end());
  _inflight_bytes -= dropped;
  if (gen.first == gen.segments.size()) {
    gen.release();
  }
  return dropped;
}

}  // namespace peregrine::net
