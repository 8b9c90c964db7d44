#include "tokenizers/bpe.h"

#include <algorithm>
#include <climits>
#include <queue>

#include "common/check.h"

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
  TF_CHECK(rank >= 0 && rank <= PairMap::kMaxRank, "BPE with more than ", PairMap::kMaxRank + 1,
           " merges is not supported");
  if ((static_cast<uint32_t>(left) | static_cast<uint32_t>(right)) < kDense)
    dense_[left * kDense + right] = rank;
  else
    pairs_.set(left, right, rank);
  if (merged_.size() <= static_cast<size_t>(rank)) merged_.resize(rank + 1, -1);
  merged_[rank] = m;
}

// Short words: the symbols and the rank of each one's pair with the next stay contiguous, compacted
// after every pass; kStale marks a rank to look up again (next to a merge).
namespace {
constexpr int32_t kStale = -1;
}  // namespace

void BpeMerges::init_ranks(const int32_t* sy, int32_t* rank, int m) const {
  for (int k = 0; k + 1 < m; ++k) rank[k] = pair_rank(sy[k], sy[k + 1]);
  rank[m - 1] = kNoRank;
}

int BpeMerges::merge_pass(int32_t* sy, int32_t* rank, int32_t* st, int m) const {
  int32_t r = kNoRank;
  for (int k = 0; k < m; ++k) r = std::min(r, rank[k]);
  if (r == kNoRank) return -1;
  // merge every occurrence of the pair ranked r, left to right (a rank is unique to its pair)
  const int32_t merged = merged_[r];
  int w = 0;
  for (int k = 0; k < m; ++w) {
    if (st) st[w] = st[k];
    if (rank[k] == r) {  // rank[m - 1] is kNoRank, so k + 1 < m
      sy[w] = merged;
      rank[w] = kStale;
      if (w > 0) rank[w - 1] = kStale;
      k += 2;
    } else {
      sy[w] = sy[k];
      rank[w] = rank[k];
      k += 1;
    }
  }
  m = w;
  for (int k = 0; k < m; ++k)
    if (rank[k] == kStale) rank[k] = k + 1 < m ? pair_rank(sy[k], sy[k + 1]) : kNoRank;
  return m;
}

void BpeMerges::apply_short(std::vector<int32_t>& syms, std::vector<int32_t>* starts, BpeWork& work) const {
  int m = static_cast<int>(syms.size());
  std::vector<int32_t>& rank = work.rank;
  rank.resize(m);
  int32_t* sy = syms.data();
  int32_t* st = starts ? starts->data() : nullptr;
  init_ranks(sy, rank.data(), m);
  for (int next; (next = merge_pass(sy, rank.data(), st, m)) >= 0;) m = next;
  syms.resize(m);
  if (starts) starts->resize(m);
}

void BpeMerges::apply_many(int32_t* syms, const int32_t* begin, int32_t* len, int count, BpeWork& work) const {
  // A pass waits on its own pair lookups (cache misses, for words not seen before); the words' passes are
  // independent, so taking one pass of each in turn lets those misses overlap.
  std::vector<int32_t>& active = work.active;
  active.clear();
  for (int j = 0; j < count; ++j) {
    if (len[j] < 2) continue;
    if (len[j] > kShortMax) {  // long words one by one, through the heap
      std::vector<int32_t>& one = work.one;
      one.assign(syms + begin[j], syms + begin[j] + len[j]);
      apply(one, nullptr, work);
      std::copy(one.begin(), one.end(), syms + begin[j]);
      len[j] = static_cast<int32_t>(one.size());
      continue;
    }
    active.push_back(j);
  }
  std::vector<int32_t>& rank = work.rank;
  rank.resize(count ? static_cast<size_t>(begin[count - 1] + len[count - 1]) : 0);
  for (int32_t j : active) init_ranks(syms + begin[j], rank.data() + begin[j], len[j]);
  while (!active.empty()) {
    size_t keep = 0;
    for (int32_t j : active) {
      const int m = merge_pass(syms + begin[j], rank.data() + begin[j], nullptr, len[j]);
      if (m < 0) continue;
      len[j] = m;
      active[keep++] = j;
    }
    active.resize(keep);
  }
}

void BpeMerges::apply(std::vector<int32_t>& syms, std::vector<int32_t>* starts, BpeWork& work) const {
  const int n = static_cast<int>(syms.size());
  if (n < 2) return;
  if (n <= kShortMax) {
    apply_short(syms, starts, work);
    return;
  }
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
    return pair_rank(syms[i], syms[j]);
  };
  for (int i = 0; i < n; ++i) rank[i] = rank_at(i);

  // One pass merges every occurrence of the lowest-ranked pair, left to right (a pair's rank is
  // unique to it, so "rank == r" identifies the pair).
  auto merge_at = [&](int i, int32_t merged) {
    int j = next[i];
    syms[i] = merged;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    syms[j] = -1;
  };

  // Longer words: a heap of (rank, position); entries go stale and are checked when popped.
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
    const int32_t merged = merged_[r];
    for (int32_t i : batch) {
      if (syms[i] < 0 || rank[i] != r) continue;  // merged away or changed
      merge_at(i, merged);
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
