// Per-thread state owned by a model (PerThread), and the word -> codes cache the models keep in it.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/str_map.h"

namespace tf::tok {

// Index of the calling thread among the live threads that asked for one; a thread's index is reused
// after it exits, so per-thread state indexed by it stays bounded by the threads alive at once.
size_t thread_slot();

// One T per thread for an object that owns it (freed with the object, not at thread exit). get() is
// lock-free: slot s is only touched by the one live thread holding index s.
template <typename T>
class PerThread {
 public:
  static constexpr size_t kSlots = 512;
  PerThread() : slots_(new std::atomic<T*>[kSlots]()) {}
  ~PerThread() {
    for (size_t s = 0; s < kSlots; ++s) delete slots_[s].load(std::memory_order_relaxed);
  }
  PerThread(const PerThread&) = delete;
  PerThread& operator=(const PerThread&) = delete;
  // The calling thread's T, or nullptr beyond kSlots live threads (the caller then uses a local one).
  T* get() const {
    const size_t s = thread_slot();
    if (s >= kSlots) return nullptr;
    T* p = slots_[s].load(std::memory_order_acquire);
    if (!p) {
      p = new T();
      slots_[s].store(p, std::memory_order_release);
    }
    return p;
  }

 private:
  std::unique_ptr<std::atomic<T*>[]> slots_;
};

// Memory for a hash table: zeroed, 64-byte aligned, and from 2 MB up in huge pages where the kernel
// offers them on request (a table far larger than L2 otherwise costs a TLB miss per lookup).
void* alloc_table(size_t bytes);
void free_table(void* p, size_t bytes);

// Words -> up to kInline codes, for one model on one thread. Words of up to kMaxKey bytes sit in an open-
// addressing table of 32-byte entries (two per cache line, key compared as two 8-byte words, the lookup
// prefetchable); longer words and longer encodings in a map beside it (keys of 16 bytes for short words, 1 + length for
// long ones, so the two never meet). Both grow up to a bound and are
// emptied when full. A cache may start from a seed (start_from): a model's words known before any text, such as
// its vocabulary, so that text never seen before still hits on them; emptying returns it to the seed.
class WordCache {
 public:
  static constexpr size_t kMaxKey = 15, kInline = 3;
  static constexpr size_t kPad = 16;  // readable bytes after a word passed to key()
  static constexpr size_t kMaxSpillKey = 200;
  struct Key {
    uint64_t lo, hi;  // the word's bytes, zero-padded, its length in the top byte
  };

  WordCache() = default;
  ~WordCache() { free_table(slots_, (mask_ + 1) * sizeof(Entry)); }
  WordCache(const WordCache&) = delete;
  WordCache& operator=(const WordCache&) = delete;

  // Key of a word of n <= kMaxKey bytes followed by kPad readable bytes (no branch on n).
  static Key key(const char* w, size_t n) {
    uint64_t a, b;
    std::memcpy(&a, w, 8);
    std::memcpy(&b, w + 8, 8);
    // min/max (cmov) and shifts below 64: word lengths vary too much for a branch on n to predict
    const size_t na = n < 8 ? n : 8, nb = (n > 8 ? n : 8) - 8;
    const uint64_t ma = ~(~uint64_t{0} << (4 * na) << (4 * na)), mb = ~(~uint64_t{0} << (8 * nb));
    return {a & ma, (b & mb) | (static_cast<uint64_t>(n) << 56)};
  }
  static uint64_t hash(Key k) {
    uint64_t h = (k.lo ^ 0x9E3779B97F4A7C15ULL) * 0xC4CEB9FE1A85EC53ULL;
    h ^= (h >> 29) ^ k.hi;
    h *= 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 32);
  }
  void prefetch(uint64_t h) const {
    if (slots_) __builtin_prefetch(&slots_[h & mask_]);
  }
  void prefetch_l2(uint64_t h) const {
    if (slots_) __builtin_prefetch(&slots_[h & mask_], 0, 2);
  }
  // A whole text's entries at once, non-temporal: hits are read once, and with the usual hint they evicted the
  // BPE pair tables from L2, which the words the cache lacks then missed on.
  void prefetch_far(uint64_t h) const {
    if (slots_) __builtin_prefetch(&slots_[h & mask_], 0, 0);
  }
  // Codes of a short word (n set), or nullptr. kInline codes are readable there, whatever n.
  const int32_t* find(Key k, uint64_t h, size_t& n) const {
    if (!slots_) return nullptr;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.lo == k.lo && e.hi == k.hi) {
        if (e.n > kInline) break;  // stored in the spill map
        n = static_cast<size_t>(e.n);
        return e.codes;
      }
      if (e.hi == 0) return nullptr;  // empty (a key's length byte is never 0)
    }
    return find_spill(std::string_view(reinterpret_cast<const char*>(&k), sizeof k), n);
  }
  // Codes of a word of any length.
  const int32_t* find_long(std::string_view word, size_t& n) const {
    if (word.size() > kMaxSpillKey) return nullptr;
    return find_spill(long_key(word), n);
  }
  void put(Key k, uint64_t h, const int32_t* codes, size_t n) {
    if (!slots_ || (size_ + 1) * 2 > mask_ + 1) grow();  // at most half full: short probes, misses included
    size_t i = h & mask_;
    while (slots_[i].hi != 0) {
      if (slots_[i].lo == k.lo && slots_[i].hi == k.hi) return;
      i = (i + 1) & mask_;
    }
    Entry& e = slots_[i];
    e.lo = k.lo;
    e.hi = k.hi;
    e.n = static_cast<int32_t>(n);
    if (n <= kInline) {
      std::memcpy(e.codes, codes, n * sizeof(int32_t));
    } else {
      put_spill(std::string_view(reinterpret_cast<const char*>(&k), sizeof k), codes, n);
    }
    ++size_;
  }
  void put_long(std::string_view word, const int32_t* codes, size_t n) {
    if (word.size() <= kMaxSpillKey) put_spill(long_key(word), codes, n);
  }

  struct alignas(32) Entry {
    uint64_t lo, hi;  // hi == 0: empty
    int32_t codes[kInline];
    int32_t n;  // > kInline: the codes are in the spill map, under the key's 16 bytes
  };
  // Words a cache starts with: short ones with at most kInline codes.
  using Seed = std::vector<Entry>;
  static Entry seed_entry(Key k, const int32_t* codes, size_t n) {
    Entry e{k.lo, k.hi, {}, static_cast<int32_t>(n)};
    std::memcpy(e.codes, codes, n * sizeof(int32_t));
    return e;
  }
  // Starts this cache with the seed's words (the seed outlives it); emptying the cache returns it to them. The
  // table is made four times the seed, so that the first new words do not make it grow; a seed with no such
  // room below the bound is not taken (the cache would empty itself back to it again and again).
  void start_from(const Seed* seed) {
    if (seed->size() * 4 > kMaxSlots) return;
    seed_ = seed;
    size_t n = kFirstSlots;
    while (n < 4 * seed->size() && n < kMaxSlots) n *= 2;
    if (!slots_ || mask_ + 1 < n) {
      if (slots_) free_table(slots_, (mask_ + 1) * sizeof(Entry));
      slots_ = static_cast<Entry*>(alloc_table(n * sizeof(Entry)));
      mask_ = n - 1;
    }
    spill_.clear();
    spill_codes_.clear();
    clear_table();
  }
  const Seed* seed() const { return seed_; }

 private:
  // 2 MB (one huge page: growing there from less cost 10% on new text) .. 32 MB
  static constexpr size_t kFirstSlots = 65536, kMaxSlots = size_t{1} << 20;
  static constexpr size_t kMaxSpill = size_t{1} << 20;                      // ints in spill_codes_

  // A long word's spill key: one byte before it, so that no such key has a short key's 16 bytes.
  std::string_view long_key(std::string_view word) const {
    long_key_.assign(1, '\x01');
    long_key_.append(word);
    return long_key_;
  }
  const int32_t* find_spill(std::string_view key, size_t& n) const {
    if (spill_.size() == 0) return nullptr;
    int32_t at = spill_.get(key);
    if (at < 0) return nullptr;
    n = static_cast<size_t>(spill_codes_[at]);
    return &spill_codes_[at + 1];
  }
  void put_spill(std::string_view key, const int32_t* codes, size_t n) {
    if (spill_codes_.size() + n + 1 > kMaxSpill) {
      spill_.clear();
      spill_codes_.clear();
      clear_table();  // its entries that point into the spill map go with it
    }
    spill_.set(key, static_cast<int32_t>(spill_codes_.size()));
    spill_codes_.push_back(static_cast<int32_t>(n));
    spill_codes_.insert(spill_codes_.end(), codes, codes + n);
    spill_codes_.insert(spill_codes_.end(), kInline - 1, 0);  // kInline codes readable after any hit
  }
  // Empties the table, back to the seed's words.
  void clear_table() {
    size_ = 0;
    if (!slots_) return;
    std::memset(static_cast<void*>(slots_), 0, (mask_ + 1) * sizeof(Entry));
    if (!seed_) return;
    for (const Entry& e : *seed_) insert_entry(e);
    size_ = seed_->size();
  }
  // Places e in the first free slot of its probe sequence (e's key is not in the table).
  void insert_entry(const Entry& e) {
    size_t i = hash({e.lo, e.hi}) & mask_;
    while (slots_[i].hi != 0) i = (i + 1) & mask_;
    slots_[i] = e;
  }
  void grow() {
    const size_t old_n = slots_ ? mask_ + 1 : 0;
    if (old_n >= kMaxSlots) {  // full at the bound: start over
      clear_table();
      return;
    }
    const size_t n = old_n ? old_n * 2 : kFirstSlots;
    Entry* old = slots_;
    slots_ = static_cast<Entry*>(alloc_table(n * sizeof(Entry)));
    mask_ = n - 1;
    for (size_t j = 0; j < old_n; ++j)
      if (old[j].hi != 0) insert_entry(old[j]);
    free_table(old, old_n * sizeof(Entry));
  }

  Entry* slots_ = nullptr;
  size_t mask_ = 0, size_ = 0;
  const Seed* seed_ = nullptr;
  StrMap spill_;  // long words, and short words with long encodings (under their 16-byte key)
  std::vector<int32_t> spill_codes_;  // [n, codes...] per spilled word
  mutable std::string long_key_;
};

}  // namespace tf::tok
