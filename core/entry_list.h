#pragma once

#include <cstddef>

#include "core/entry.h"

namespace podcache {

// An intrusive doubly linked list of entries through Entry::prev/next, newest at the head, with the
// bytes it holds. Not thread-safe: owned by one store shard under its lock.
class EntryList {
 public:
  Entry* front() const { return head_; }
  Entry* back() const { return tail_; }
  bool empty() const { return head_ == nullptr; }
  size_t bytes() const { return bytes_; }
  size_t size() const { return size_; }

  void PushFront(Entry* e, size_t charge) {
    e->prev = nullptr;
    e->next = head_;
    if (head_) head_->prev = e;
    head_ = e;
    if (!tail_) tail_ = e;
    bytes_ += charge;
    ++size_;
  }

  void PushBack(Entry* e, size_t charge) {
    e->next = nullptr;
    e->prev = tail_;
    if (tail_) tail_->next = e;
    tail_ = e;
    if (!head_) head_ = e;
    bytes_ += charge;
    ++size_;
  }

  void Remove(Entry* e, size_t charge) {
    if (e->prev)
      e->prev->next = e->next;
    else
      head_ = e->next;
    if (e->next)
      e->next->prev = e->prev;
    else
      tail_ = e->prev;
    e->prev = e->next = nullptr;
    bytes_ -= charge;
    --size_;
  }

  void MoveToFront(Entry* e) {
    if (head_ == e) return;
    // Unlink (e is not the head, so e->prev is set).
    e->prev->next = e->next;
    if (e->next)
      e->next->prev = e->prev;
    else
      tail_ = e->prev;
    e->prev = nullptr;
    e->next = head_;
    head_->prev = e;
    head_ = e;
  }

  void Reset() {
    head_ = tail_ = nullptr;
    bytes_ = size_ = 0;
  }

 private:
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  size_t bytes_ = 0;
  size_t size_ = 0;
};

}  // namespace podcache
