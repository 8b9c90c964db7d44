// Open-addressing hash map from byte strings to int32 values: one arena for the keys, one probe array.
#pragma once
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/check.h"

namespace tf::tok {

inline uint64_t hash_bytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xFF51AFD7ED558CCDULL);
  while (n > 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  // the last 1..8 bytes with at most two loads (the length is already mixed in)
  uint64_t w = 0;
  if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    w = a | (static_cast<uint64_t>(b) << 32);
  } else if (n > 0) {
    w = static_cast<unsigned char>(p[0]) | (static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
        (static_cast<uint64_t>(static_cast<unsigned char>(p[n - 1])) << 16);
  }
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 32;
  return h;
}

class StrMap {
 public:
  // Inserts or overwrites (later insertions win, like a Python dict built in order).
  void set(std::string_view key, int32_t value) {
    if (key.size() > kMaxInline || arena_.size() + key.size() >= (size_t{1} << 24)) {
      long_[std::string(key)] = value;
      if (key.size() > max_len_) max_len_ = key.size();
      return;
    }
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const uint64_t pre = prefix(key);
    size_t mask = slots_.size() - 1;
    for (size_t i = hash_bytes(key.data(), key.size()) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.value < 0) {
        s.prefix = pre;
        s.meta = (static_cast<uint32_t>(arena_.size()) << 8) | static_cast<uint32_t>(key.size());
        s.value = value;
        arena_.append(key);
        ++size_;
        if (key.size() > max_len_) max_len_ = key.size();
        return;
      }
      if (eq(s, pre, key)) {
        s.value = value;
        return;
      }
    }
  }

  // Value for key, or `missing`. Values must be >= 0.
  int32_t get(std::string_view key, int32_t missing = -1) const {
    if (!long_.empty()) {  // long keys, and keys set after the arena filled up (checked first: newest)
      auto it = long_.find(std::string(key));
      if (it != long_.end()) return it->second;
    }
    if (key.size() > kMaxInline) return missing;
    if (slots_.empty()) return missing;
    const uint64_t pre = prefix(key);
    size_t mask = slots_.size() - 1;
    for (size_t i = hash_bytes(key.data(), key.size()) & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.value < 0) return missing;
      if (eq(s, pre, key)) return s.value;
    }
  }

  // Starts loading the slot get(key) looks at first.
  void prefetch(std::string_view key) const {
    if (!slots_.empty() && key.size() <= kMaxInline)
      __builtin_prefetch(&slots_[hash_bytes(key.data(), key.size()) & (slots_.size() - 1)]);
  }
  size_t size() const { return size_ + long_.size(); }
  size_t max_key_len() const { return max_len_; }
  void clear() {
    slots_.clear();
    arena_.clear();
    long_.clear();
    size_ = 0;
    max_len_ = 0;
  }

 private:
  static constexpr size_t kMaxInline = 255;
  // 16 bytes: the key's first 8 bytes inline, so most lookups touch one cache line.
  struct Slot {
    uint64_t prefix = 0;
    uint32_t meta = 0;  // arena offset << 8 | length
    int32_t value = -1;  // -1: empty
  };
  static uint64_t prefix(std::string_view key) {
    uint64_t p = 0;
    std::memcpy(&p, key.data(), key.size() < 8 ? key.size() : 8);
    return p;
  }
  bool eq(const Slot& s, uint64_t pre, std::string_view key) const {
    if (s.prefix != pre || (s.meta & 0xFF) != key.size()) return false;
    if (key.size() <= 8) return true;
    const char* a = arena_.data() + (s.meta >> 8) + 8;
    const char* b = key.data() + 8;
    size_t n = key.size() - 8;
    while (n >= 8) {
      uint64_t x, y;
      std::memcpy(&x, a, 8);
      std::memcpy(&y, b, 8);
      if (x != y) return false;
      a += 8;
      b += 8;
      n -= 8;
    }
    for (size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.value < 0) continue;
      size_t len = s.meta & 0xFF;
      size_t i = hash_bytes(arena_.data() + (s.meta >> 8), len) & mask;
      while (slots_[i].value >= 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  std::unordered_map<std::string, int32_t> long_;
  size_t size_ = 0;
  size_t max_len_ = 0;
};

// A per-thread cache from words to their symbol ids. Words of up to 18 bytes and 8 symbols: 2-way skewed
// associative, one 64-byte line per entry (4 MB in all); longer ones (up to kMaxSpillKey bytes) in a
// hash map beside it. Entries carry the owner's serial so several models can share a thread; per
// thread, so thread-safe by construction.
class WordSymbolCache {
 public:
  static constexpr size_t kMaxKey = 18, kMaxSyms = 8, kEntries = 65536, kWays = 2, kMaxSpillKey = 200;
  static constexpr size_t kPad = 24;  // readable bytes after a word passed to find
  // Hash of a word of n <= kMaxKey bytes followed by kPad readable bytes: three masked 8-byte loads, no
  // branch on the length (hash_bytes mispredicts on it once per word).
  static uint64_t hash(const char* word, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xFF51AFD7ED558CCDULL);
    for (size_t k = 0; k < 3; ++k) {
      uint64_t x;
      std::memcpy(&x, word + 8 * k, 8);
      h = (h ^ (x & byte_mask(n, k))) * 0xC4CEB9FE1A85EC53ULL;
      h ^= h >> 29;
    }
    return h ^ (h >> 32);
  }
  // Symbols of word for owner, or nullptr (n set on a hit). kPad bytes after the word must be readable.
  const int32_t* find(uint32_t owner, std::string_view word, uint64_t h, size_t& n) const {
    if (!entries_) return nullptr;
    if (word.size() <= kMaxKey) {
      for (size_t w = 0; w < kWays; ++w) {
        const Entry& e = entries_[slot(h, w)];
        if (e.hash == h && e.owner == owner && e.len == word.size() && same_key(e.key, word.data(), word.size())) {
          n = e.n;
          return e.syms;
        }
      }
    }
    // more than kMaxSyms symbols take more than kMaxSyms bytes
    if (word.size() <= kMaxSyms || word.size() > kMaxSpillKey || spill_.size() == 0) return nullptr;
    int32_t at = spill_.get(spill_key(owner, word));
    if (at < 0) return nullptr;
    n = static_cast<size_t>(spill_syms_[at]);
    return &spill_syms_[at + 1];
  }
  // Starts loading the set of a word looked up soon (the table is far larger than L2).
  void prefetch(uint64_t h) const {
    if (!entries_) return;
    for (size_t w = 0; w < kWays; ++w) __builtin_prefetch(&entries_[slot(h, w)]);
  }
  void put(uint32_t owner, std::string_view word, uint64_t h, const int32_t* syms, size_t n) {
    if (!entries_) entries_.reset(new Entry[kEntries]());
    if (word.size() > kMaxKey || n > kMaxSyms) {
      if (word.size() > kMaxSpillKey) return;
      if (spill_syms_.size() + n + 1 > kMaxSpill) {
        spill_.clear();
        spill_syms_.clear();
      }
      spill_.set(spill_key(owner, word), static_cast<int32_t>(spill_syms_.size()));
      spill_syms_.push_back(static_cast<int32_t>(n));
      spill_syms_.insert(spill_syms_.end(), syms, syms + n);
      return;
    }
    size_t way = ++puts_ & (kWays - 1);  // a victim that varies per insertion, unless a slot is free
    for (size_t w = 0; w < kWays; ++w)
      if (entries_[slot(h, w)].n == 0) {
        way = w;
        break;
      }
    Entry& e = entries_[slot(h, way)];
    e.hash = h;
    e.owner = owner;
    e.len = static_cast<uint8_t>(word.size());
    e.n = static_cast<uint8_t>(n);
    std::memcpy(e.key, word.data(), word.size());
    std::memcpy(e.syms, syms, n * sizeof(int32_t));
  }

 private:
  struct alignas(64) Entry {
    uint64_t hash;
    uint32_t owner;
    uint8_t len, n;
    char key[kMaxKey];
    int32_t syms[kMaxSyms];
  };
  // The bytes of the k-th 8-byte load of a word of n bytes that lie inside the word.
  static uint64_t byte_mask(size_t n, size_t k) {
    size_t m = n > 8 * k ? n - 8 * k : 0;
    return m >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * m)) - 1;
  }
  // key == word for n <= kMaxKey bytes, without a branch per length: three 8-byte loads of each (the
  // entry's key is followed by its symbols, the word by kPad bytes), the bytes past n masked off.
  static bool same_key(const char* key, const char* word, size_t n) {
    uint64_t diff = 0;
    for (size_t k = 0; k < 3; ++k) {
      uint64_t x, y;
      std::memcpy(&x, key + 8 * k, 8);
      std::memcpy(&y, word + 8 * k, 8);
      diff |= (x ^ y) & byte_mask(n, k);
    }
    return diff == 0;
  }
  // The entry a word may sit in, per way: two independent slots (skewed associativity) cost two cache
  // lines per lookup where a 4-way set costs four, for about the same hit rate.
  static size_t slot(uint64_t h, size_t way) { return (way ? h >> 24 : h) & (kEntries - 1); }
  std::string_view spill_key(uint32_t owner, std::string_view word) const {
    key_.assign(reinterpret_cast<const char*>(&owner), sizeof owner);
    key_.append(word);
    return key_;
  }
  std::unique_ptr<Entry[]> entries_;
  size_t puts_ = 0;
  // Words the sets cannot hold (non-Latin scripts, long words): owner + word -> offset of
  // [n, symbols...] in spill_syms_; emptied when it would pass kMaxSpill ints.
  static constexpr size_t kMaxSpill = size_t{1} << 20;
  StrMap spill_;
  std::vector<int32_t> spill_syms_;
  mutable std::string key_;
};

// Hash map from a pair of symbol ids to the rank of their merge. One 8-byte slot packs both ids and the rank, so
// a lookup reads one slot, and the usual answer mid-merge (no such pair) stops at the first empty slot: the
// table is at most half full and hashed by the key's top product bits (Fibonacci), so probes stay short.
// GPT-2's 50K merges take 1 MB.
class PairMap {
 public:
  static constexpr int kIdBits = 20, kRankBits = 24;
  static constexpr int32_t kMaxId = (1 << kIdBits) - 2, kMaxRank = (1 << kRankBits) - 1;
  static constexpr int32_t kNone = INT32_MAX;

  PairMap() { rehash(64); }
  // Inserts or overwrites.
  void set(int32_t a, int32_t b, int32_t rank) {
    TF_CHECK(a >= 0 && b >= 0 && a <= kMaxId && b <= kMaxId && rank >= 0 && rank <= kMaxRank,
             "BPE with more than ", kMaxId + 1, " symbols or ", kMaxRank + 1, " merges is not supported");
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
    const uint64_t k = key(a, b);
    size_t i = home(k);
    while (slots_[i] != kEmpty && (slots_[i] >> kRankBits) != k) i = (i + 1) & mask_;
    if (slots_[i] == kEmpty) ++size_;
    slots_[i] = (k << kRankBits) | static_cast<uint64_t>(rank);
  }
  // Rank of (a, b), or kNone; any ids (negative ones, e.g. unknown symbols, are never pairs).
  int32_t rank(int32_t a, int32_t b) const {
    if (static_cast<uint32_t>(a) > kMaxId || static_cast<uint32_t>(b) > kMaxId) return kNone;
    const uint64_t k = key(a, b);
    for (size_t i = home(k);; i = (i + 1) & mask_) {
      const uint64_t e = slots_[i];
      if ((e >> kRankBits) == k) return static_cast<int32_t>(e & kMaxRank);
      if (e == kEmpty) return kNone;
    }
  }

 private:
  // ids kMaxId + 1 in both halves: no real key, so never a hit
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(a) << kIdBits) | static_cast<uint64_t>(b);
  }
  size_t home(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ULL) >> shift_); }
  void rehash(size_t n) {
    std::vector<uint64_t> old(n, kEmpty);
    old.swap(slots_);
    mask_ = n - 1;
    shift_ = 64 - __builtin_ctzll(n);
    for (uint64_t e : old) {
      if (e == kEmpty) continue;
      size_t i = home(e >> kRankBits);
      while (slots_[i] != kEmpty) i = (i + 1) & mask_;
      slots_[i] = e;
    }
  }
  std::vector<uint64_t> slots_;  // key << kRankBits | rank
  size_t mask_ = 0, size_ = 0;
  int shift_ = 64;
};

}  // namespace tf::tok
