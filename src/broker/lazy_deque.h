// A std::deque that allocates nothing until its first element. libstdc++'s deque
// allocates a map and a 512-byte block on construction; a session has two of them and
// an idle connection uses neither, so this halves an idle session's footprint.
#pragma once

#include <deque>
#include <memory>

namespace peregrine::broker {

template <typename T>
class LazyDeque {
 public:
  using iterator = typename std::deque<T>::iterator;
  using const_iterator = typename std::deque<T>::const_iterator;

  bool has_storage() const { return _items != nullptr; }
  bool empty() const { return !_items || _items->empty(); }
  size_t size() const { return _items ? _items->size() : 0; }
  T& front() { return _items->front(); }
  T& back() { return _items->back(); }
  void pop_front() { _items->pop_front(); }
  void push_back(T&& item) { storage().push_back(std::move(item)); }
  // Iterating a deque that has no storage must not allocate it (a resumed idle session
  // walks its empty inflight list): those iterators come from one shared empty deque,
  // which nobody modifies, so they compare equal and dereference nothing.
  iterator begin() { return _items ? _items->begin() : none().begin(); }
  iterator end() { return _items ? _items->end() : none().end(); }
  const_iterator begin() const { return _items ? _items->cbegin() : none().cbegin(); }
  const_iterator end() const { return _items ? _items->cend() : none().cend(); }
  iterator erase(iterator it) { return _items->erase(it); }
  // Gives the memory back once drained (a burst must not pin it for good).
  void trim() {
    if (_items && _items->empty()) {
      _items.reset();
    }
  }

 private:
  std::deque<T>& storage() {
    if (!_items) {
      _items = std::make_unique<std::deque<T>>();
    }
    return *_items;
  }
  static std::deque<T>& none() {
    static std::deque<T> empty;
    return empty;
  }
  std::unique_ptr<std::deque<T>> _items;
};

}  // namespace peregrine::broker
