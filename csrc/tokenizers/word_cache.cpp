#include "tokenizers/word_cache.h"

#include <cstdlib>
#include <mutex>
#include <new>

#include "common/huge_pages.h"

namespace tf::tok {

namespace {
struct Slots {
  std::mutex mu;
  std::vector<size_t> free;
  size_t next = 0;
};
// Never destroyed: threads may exit after static destruction.
Slots& slots() {
  static Slots* s = new Slots();
  return *s;
}

// Holds the thread's index while it lives; gives it back when the thread exits.
struct SlotHolder {
  size_t slot;
  SlotHolder() {
    Slots& s = slots();
    std::lock_guard<std::mutex> lk(s.mu);
    if (!s.free.empty()) {
      slot = s.free.back();
      s.free.pop_back();
    } else {
      slot = s.next++;
    }
  }
  ~SlotHolder() {
    Slots& s = slots();
    std::lock_guard<std::mutex> lk(s.mu);
    s.free.push_back(slot);
  }
};
}  // namespace

size_t thread_slot() {
  static thread_local SlotHolder holder;
  return holder.slot;
}

void* alloc_table(size_t bytes) {
  const size_t align = bytes >= kHugePageBytes ? kHugePageBytes : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  if (bytes >= kHugePageBytes) advise_huge_pages(p, bytes);  // before the first touch: the zeroing faults huge pages
  std::memset(p, 0, bytes);
  return p;
}

void free_table(void* p, size_t) { std::free(p); }

}  // namespace tf::tok
