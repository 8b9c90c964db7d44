#include "tokenizers/batch_tensors.h"

#include <algorithm>

namespace tf::tok {

namespace {

// tokenization_utils._truncate: how much of A (na) and B (nb) a row keeps within budget; false on its errors.
bool truncate(Truncation strategy, bool pair, int64_t& na, int64_t& nb, int64_t budget) {
  const int64_t excess = na + nb - budget;
  if (budget == 0) {
    na = nb = 0;
  } else if (excess <= 0) {
  } else if (strategy == Truncation::kLongestFirst || (!pair && strategy == Truncation::kOnlyFirst)) {
    if (!pair) {
      na = budget;
    } else if (na <= nb) {  // the shorter one (the first on a tie) keeps at most half, the other the rest
      na = std::min(na, budget / 2);
      nb = budget - na;
    } else {
      nb = std::min(nb, budget / 2);
      na = budget - nb;
    }
  } else if (!pair || (strategy == Truncation::kOnlyFirst ? na : nb) <= excess) {
    return false;  // "Second sequence not provided" / "Sequence to truncate too short"
  } else if (strategy == Truncation::kOnlyFirst) {
    na -= excess;
  } else {
    nb -= excess;
  }
  return true;
}

int64_t* put(int64_t* o, const int64_t* v, size_t n) { return std::copy(v, v + n, o); }
int64_t* put(int64_t* o, int64_t v, int64_t n) { return std::fill_n(o, std::max<int64_t>(n, 0), v); }

}  // namespace

bool plan_rows(const std::vector<std::vector<int64_t>>& a, const std::vector<std::vector<int64_t>>* b,
               const SpecialLayout& layout, const TensorOptions& options, RowPlan& plan) {
  const size_t n = a.size();
  const bool pair = b != nullptr;
  const int64_t extra = layout.extra(pair);
  const bool truncating = options.truncation != Truncation::kNone && options.max_length >= 0;
  if (n == 0 || (truncating && options.max_length < extra)) return false;
  plan.keep_a.resize(n);
  plan.keep_b.assign(n, 0);
  int64_t longest = 0;
  std::vector<int64_t> len(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t na = static_cast<int64_t>(a[i].size()), nb = pair ? static_cast<int64_t>((*b)[i].size()) : 0;
    if (truncating && !truncate(options.truncation, pair, na, nb, options.max_length - extra)) return false;
    plan.keep_a[i] = std::min<int64_t>(na, static_cast<int64_t>(a[i].size()));
    if (pair) plan.keep_b[i] = std::min<int64_t>(nb, static_cast<int64_t>((*b)[i].size()));
    len[i] = extra + plan.keep_a[i] + plan.keep_b[i];
    longest = std::max(longest, len[i]);
  }
  const int64_t target = options.padding == Padding::kLongest     ? longest
                         : options.padding == Padding::kMaxLength ? options.max_length
                                                                  : 0;
  // rows longer than the target stay so: the arrays need every row at one length
  plan.width = std::max(len[0], target);
  for (size_t i = 1; i < n; ++i)
    if (std::max(len[i], target) != plan.width) return false;
  return true;
}

void fill_rows(const std::vector<std::vector<int64_t>>& a, const std::vector<std::vector<int64_t>>* b,
               const SpecialLayout& layout, const TensorOptions& options, const RowPlan& plan, size_t begin,
               size_t end, int64_t* ids, int64_t* types, int64_t* mask) {
  const bool pair = b != nullptr;
  const int64_t w = plan.width, extra = layout.extra(pair);
  for (size_t i = begin; i < end; ++i) {
    const int64_t na = plan.keep_a[i], nb = plan.keep_b[i];
    const int64_t pad = w - (extra + na + nb);
    const int64_t lead = options.pad_left ? pad : 0;
    int64_t* o = ids + static_cast<int64_t>(i) * w;
    o = put(o, options.pad_id, lead);
    o = put(o, layout.prefix.data(), layout.prefix.size());
    o = put(o, a[i].data(), static_cast<size_t>(na));
    if (pair) {
      o = put(o, layout.mid.data(), layout.mid.size());
      o = put(o, (*b)[i].data(), static_cast<size_t>(nb));
    }
    o = put(o, layout.suffix.data(), layout.suffix.size());
    put(o, options.pad_id, pad - lead);
    if (types) {
      int64_t* t = types + static_cast<int64_t>(i) * w;
      t = put(t, options.pad_type, lead);
      t = put(t, layout.prefix_types.data(), layout.prefix_types.size());
      t = put(t, layout.type_a, na);
      if (pair) {
        t = put(t, layout.mid_types.data(), layout.mid_types.size());
        t = put(t, layout.type_b, nb);
      }
      t = put(t, layout.suffix_types.data(), layout.suffix_types.size());
      put(t, options.pad_type, pad - lead);
    }
    if (mask) {
      int64_t* m = mask + static_cast<int64_t>(i) * w;
      m = put(m, int64_t{0}, lead);
      m = put(m, int64_t{1}, w - pad);
      put(m, int64_t{0}, pad - lead);
    }
  }
}

}  // namespace tf::tok
