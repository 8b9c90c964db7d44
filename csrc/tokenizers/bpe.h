// BPE merges over symbol ids with 1.2.0's semantics: repeatedly take the lowest-ranked adjacent pair
// and merge all its occurrences left to right in one pass.
#pragma once
#include <climits>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/str_map.h"

namespace tf::tok {

// Buffers apply() works in; callers keep one per thread (passing it avoids a TLS lookup per word).
struct BpeWork {
  std::vector<int32_t> next, prev, rank, batch, touched;
  std::vector<int32_t> active, one;  // apply_many's own (it calls apply, which uses the others)
};

class BpeMerges {
 public:
  // Symbol id of a string, created when new.
  int32_t intern(std::string_view s);
  int32_t find(std::string_view s) const { return symbols_.get(s); }
  void prefetch_find(std::string_view s) const { symbols_.prefetch(s); }
  // merges[i] = (left, right); a repeated pair keeps its last rank, like dict(zip(merges, range(n))).
  void add_merge(int32_t left, int32_t right, int32_t rank);
  const std::string& str(int32_t sym) const { return strings_[sym]; }
  int32_t num_symbols() const { return static_cast<int32_t>(strings_.size()); }

  // Merges `syms` in place (symbol ids); `starts` (byte offset of each symbol) is kept aligned.
  void apply(std::vector<int32_t>& syms, std::vector<int32_t>* starts, BpeWork& work) const;
  void apply(std::vector<int32_t>& syms, std::vector<int32_t>* starts) const {
    BpeWork work;
    apply(syms, starts, work);
  }

  // Merges `count` words in place: word j is syms[begin[j] .. begin[j] + len[j]) (begin ascending, words
  // one after another); len is updated. Same result as apply() on each.
  void apply_many(int32_t* syms, const int32_t* begin, int32_t* len, int count, BpeWork& work) const;

 private:
  static constexpr int kShortMax = 48;  // longer words go through the heap
  void apply_short(std::vector<int32_t>& syms, std::vector<int32_t>* starts, BpeWork& work) const;
  void init_ranks(const int32_t* sy, int32_t* rank, int m) const;
  // One pass of apply_short over m symbols: the new length, or -1 when no pair merges.
  int merge_pass(int32_t* sy, int32_t* rank, int32_t* st, int m) const;
  // Rank of merging the adjacent symbols (a, b), or kNoRank. The symbol a pair merges into is found by its rank
  // (unique to the pair), once per pass, not per occurrence.
  int32_t pair_rank(int32_t a, int32_t b) const {
    if ((static_cast<uint32_t>(a) | static_cast<uint32_t>(b)) < kDense) return dense_[a * kDense + b];
    return pairs_.rank(a, b);
  }
  // Pairs of the first kDense symbols (the bytes, for byte-level BPE) in a dense table: a word's first
  // round of lookups is all such pairs.
  static constexpr int32_t kDense = 256, kNoRank = PairMap::kNone;
  std::vector<int32_t> dense_ = std::vector<int32_t>(kDense * kDense, kNoRank);
  std::vector<int32_t> merged_;  // by rank: the symbol its pair merges into
  StrMap symbols_;
  std::vector<std::string> strings_;
  PairMap pairs_;
};

}  // namespace tf::tok
