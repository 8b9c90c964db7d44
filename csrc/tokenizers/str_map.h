// Open-addressing hash map from byte strings to int32 values: one arena for the keys, one probe array.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace tf::tok {

inline uint64_t hash_bytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xFF51AFD7ED558CCDULL);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 32;
  return h;
}

class StrMap {
 public:
  // Inserts or overwrites (later insertions win, like a Python dict built in order).
  void set(std::string_view key, int32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    uint64_t h = hash_bytes(key.data(), key.size());
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.len < 0) {
        s.hash = h;
        s.offset = static_cast<uint32_t>(arena_.size());
        s.len = static_cast<int32_t>(key.size());
        s.value = value;
        arena_.append(key);
        ++size_;
        if (key.size() > max_len_) max_len_ = key.size();
        return;
      }
      if (s.hash == h && eq(s, key)) {
        s.value = value;
        return;
      }
    }
  }

  // Value for key, or `missing`.
  int32_t get(std::string_view key, int32_t missing = -1) const {
    if (slots_.empty()) return missing;
    uint64_t h = hash_bytes(key.data(), key.size());
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.len < 0) return missing;
      if (s.hash == h && eq(s, key)) return s.value;
    }
  }

  size_t size() const { return size_; }
  size_t max_key_len() const { return max_len_; }
  void clear() {
    slots_.clear();
    arena_.clear();
    size_ = 0;
    max_len_ = 0;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    int32_t len = -1;
    int32_t value = 0;
  };
  bool eq(const Slot& s, std::string_view key) const {
    if (static_cast<size_t>(s.len) != key.size()) return false;
    const char* a = arena_.data() + s.offset;
    const char* b = key.data();
    size_t n = key.size();
    while (n >= 8) {  // short keys: no memcmp call
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
      if (s.len < 0) continue;
      size_t i = s.hash & mask;
      while (slots_[i].len >= 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
  size_t max_len_ = 0;
};

// Hash map from 64-bit keys (a pair of symbol ids) to two int32 values.
class PairMap {
 public:
  struct Value {
    int32_t rank;
    int32_t merged;
  };
  void set(uint64_t key, Value v) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.used) {
        s = Slot{key, v, true};
        ++size_;
        return;
      }
      if (s.key == key) {
        s.value = v;
        return;
      }
    }
  }
  const Value* get(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    size_t mask = slots_.size() - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == key) return &s.value;
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    Value value{0, 0};
    bool used = false;
  };
  static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDULL;
    k ^= k >> 33;
    return k;
  }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (!s.used) continue;
      size_t i = mix(s.key) & mask;
      while (slots_[i].used) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace tf::tok
