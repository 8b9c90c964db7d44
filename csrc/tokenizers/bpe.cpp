#include "tokenizers/bpe.h"

#include <algorithm>
#include <climits>
#include <queue>

namespace tf::tok {

int32_t BpeMerges::intern(std::string_view s) {
  int32_t id = symbols_.get(s);
  if (id >= 0) return id;
  id = static_cast<int32_t>(strings_.size());
  strings_.emplace_back(s);
  symbols_.set(s, id);
  return id;
}

void BpeMerges::add_merge(int32_t left, int32_t right, int32_t rank) {
  std::string merged = strings_[left] + strings_[right];
  int32_t m = intern(merged);
  if ((static_cast<uint32_t>(left) | static_cast<uint32_t>(right)) < kDense)
    dense_[left * kDense + right] = PairMap::Value{rank, m};
  else
    pairs_.set((static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right),
               PairMap::Value{rank, m});
}

void BpeMerges::apply(std::vector<int32_t>& syms, std::vector<int32_t>* starts, BpeWork& work) const {
  const int n = static_cast<int>(syms.size());
  if (n < 2) return;
  std::vector<int32_t>& next = work.next;
  std::vector<int32_t>& prev = work.prev;
  std::vector<int32_t>& rank = work.rank;
  next.resize(n);
  prev.resize(n);
  rank.resize(n);
  for (int i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  auto rank_at = [&](int i) -> int32_t {
    int j = next[i];
    if (j < 0) return INT32_MAX;
    const PairMap::Value* v = pair(syms[i], syms[j]);
    return v ? v->rank : INT32_MAX;
  };
  for (int i = 0; i < n; ++i) rank[i] = rank_at(i);

  // One pass merges every occurrence of the lowest-ranked pair, left to right (a pair's rank is
  // unique to it, so "rank == r" identifies the pair).
  auto merge_at = [&](int i) {
    int j = next[i];
    syms[i] = pair(syms[i], syms[j])->merged;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    syms[j] = -1;
  };

  if (n <= 48) {
    for (;;) {
      int32_t r = INT32_MAX;
      for (int i = 0; i >= 0; i = next[i]) r = std::min(r, rank[i]);
      if (r == INT32_MAX) break;
      for (int i = 0; i >= 0;) {
        if (rank[i] == r) {
          merge_at(i);
          rank[i] = rank_at(i);
          if (prev[i] >= 0) rank[prev[i]] = rank_at(prev[i]);
          i = next[i];
        } else {
          i = next[i];
        }
      }
    }
  } else {
    // Long words: a heap of (rank, position); entries go stale and are checked when popped.
    using Entry = std::pair<int32_t, int32_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
    for (int i = 0; i < n; ++i)
      if (rank[i] != INT32_MAX) heap.push({rank[i], i});
    std::vector<int32_t>& batch = work.batch;
    while (!heap.empty()) {
      int32_t r = heap.top().first;
      batch.clear();
      while (!heap.empty() && heap.top().first == r) {
        batch.push_back(heap.top().second);
        heap.pop();
      }
      std::sort(batch.begin(), batch.end());
      batch.erase(std::unique(batch.begin(), batch.end()), batch.end());
      std::vector<int32_t>& touched = work.touched;
      touched.clear();
      for (int32_t i : batch) {
        if (syms[i] < 0 || rank[i] != r) continue;  // merged away or changed
        merge_at(i);
        touched.push_back(i);
        rank[i] = INT32_MAX;  // recomputed after the pass
        if (prev[i] >= 0) rank[prev[i]] = INT32_MAX;
      }
      for (int32_t i : touched) {
        if (syms[i] < 0) continue;
        rank[i] = rank_at(i);
        if (rank[i] != INT32_MAX) heap.push({rank[i], i});
        int p = prev[i];
        if (p >= 0 && syms[p] >= 0) {
          rank[p] = rank_at(p);
          if (rank[p] != INT32_MAX) heap.push({rank[p], p});
        }
      }
    }
  }
  int w = 0;
  for (int i = 0; i >= 0; i = next[i]) {
    syms[w] = syms[i];
    if (starts) (*starts)[w] = (*starts)[i];
    ++w;
  }
  syms.resize(w);
  if (starts) starts->resize(w);
}

}  // namespace tf::tok
