// libFuzzer harness: __call__'s padded arrays (plan_rows + fill_rows) under ASan/UBSan, against rows built one by
// one the way tokenization_utils.__call__ builds its lists (truncation as _truncate, specials, padding).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tokenizers/batch_tensors.h"

using namespace tf::tok;

namespace {

struct Bytes {
  const uint8_t* p;
  size_t n;
  uint8_t next() {
    if (!n) return 0;
    --n;
    return *p++;
  }
};

// tokenization_utils._truncate, written as the Python is (returns false on its errors).
bool reference_truncate(Truncation s, bool pair, int64_t& na, int64_t& nb, int64_t budget) {
  const int64_t excess = na + nb - budget;
  if (budget == 0) {
    na = nb = 0;
    return true;
  }
  if (excess <= 0) return true;
  if (s == Truncation::kLongestFirst || (!pair && s == Truncation::kOnlyFirst)) {
    if (!pair) {
      na = budget;
    } else if (na <= nb) {
      na = std::min(na, budget / 2);
      nb = budget - na;
    } else {
      nb = std::min(nb, budget / 2);
      na = budget - nb;
    }
    return true;
  }
  if (!pair) return false;
  if ((s == Truncation::kOnlyFirst ? na : nb) <= excess) return false;
  (s == Truncation::kOnlyFirst ? na : nb) -= excess;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes in{data, size};
  const size_t rows = in.next() % 9;
  const bool pair = in.next() & 1;
  SpecialLayout layout;
  for (auto* v : {&layout.prefix, &layout.mid, &layout.suffix}) v->resize(in.next() % 4, 900 + in.next());
  layout.prefix_types.assign(layout.prefix.size(), in.next() % 3);
  layout.mid_types.assign(layout.mid.size(), in.next() % 3);
  layout.suffix_types.assign(layout.suffix.size(), in.next() % 3);
  layout.type_a = in.next() % 2;
  layout.type_b = 1 + in.next() % 2;
  TensorOptions o;
  o.truncation = static_cast<Truncation>(in.next() % 4);
  o.max_length = static_cast<int64_t>(in.next() % 40) - 1;
  o.padding = static_cast<Padding>(in.next() % 3);
  if (o.padding == Padding::kMaxLength && o.max_length < 0) o.max_length = 0;  // __call__ requires it
  o.pad_id = 7;
  o.pad_type = in.next() % 3;
  o.pad_left = in.next() & 1;
  std::vector<std::vector<int64_t>> a(rows), b(pair ? rows : 0);
  int64_t id = 1;
  for (auto& r : a) r.resize(in.next() % 30);
  for (auto& r : b) r.resize(in.next() % 30);
  for (auto* batch : {&a, &b})
    for (auto& r : *batch)
      for (auto& x : r) x = id++;

  // the Python path: rows one by one, then the tensor's requirement of one length
  const int64_t extra = layout.extra(pair);
  const bool truncating = o.truncation != Truncation::kNone && o.max_length >= 0;
  bool ok = rows > 0 && !(truncating && o.max_length < extra);
  std::vector<std::vector<int64_t>> ids(rows), types(rows), mask(rows);
  for (size_t i = 0; ok && i < rows; ++i) {
    int64_t na = static_cast<int64_t>(a[i].size()), nb = pair ? static_cast<int64_t>(b[i].size()) : 0;
    if (truncating && !reference_truncate(o.truncation, pair, na, nb, o.max_length - extra)) ok = false;
    na = std::min<int64_t>(na, static_cast<int64_t>(a[i].size()));
    if (pair) nb = std::min<int64_t>(nb, static_cast<int64_t>(b[i].size()));
    auto add = [&](const std::vector<int64_t>& v, size_t count, int64_t type, const std::vector<int64_t>* tv) {
      for (size_t k = 0; k < count; ++k) {
        ids[i].push_back(v[k]);
        types[i].push_back(tv ? (*tv)[k] : type);
        mask[i].push_back(1);
      }
    };
    add(layout.prefix, layout.prefix.size(), 0, &layout.prefix_types);
    add(a[i], static_cast<size_t>(na), layout.type_a, nullptr);
    if (pair) {
      add(layout.mid, layout.mid.size(), 0, &layout.mid_types);
      add(b[i], static_cast<size_t>(nb), layout.type_b, nullptr);
    }
    add(layout.suffix, layout.suffix.size(), 0, &layout.suffix_types);
  }
  int64_t target = -1;
  if (ok && o.padding != Padding::kNone) {
    target = o.max_length;
    if (o.padding == Padding::kLongest) {
      target = 0;
      for (auto& r : ids) target = std::max<int64_t>(target, static_cast<int64_t>(r.size()));
    }
  }
  for (size_t i = 0; ok && i < rows; ++i) {
    const int64_t pad = target - static_cast<int64_t>(ids[i].size());
    if (pad <= 0) continue;
    const auto at = [&](std::vector<int64_t>& v) { return o.pad_left ? v.begin() : v.end(); };
    ids[i].insert(at(ids[i]), static_cast<size_t>(pad), o.pad_id);
    types[i].insert(at(types[i]), static_cast<size_t>(pad), o.pad_type);
    mask[i].insert(at(mask[i]), static_cast<size_t>(pad), 0);
  }
  for (size_t i = 1; ok && i < rows; ++i) ok = ids[i].size() == ids[0].size();

  RowPlan plan;
  const bool planned = plan_rows(a, pair ? &b : nullptr, layout, o, plan);
  if (planned != ok) __builtin_trap();
  if (!planned) return 0;
  const size_t w = static_cast<size_t>(plan.width);
  if (w != ids[0].size()) __builtin_trap();
  std::vector<int64_t> fi(rows * w), ft(rows * w), fm(rows * w);
  fill_rows(a, pair ? &b : nullptr, layout, o, plan, 0, rows, fi.data(), ft.data(), fm.data());
  for (size_t i = 0; i < rows; ++i)
    if (!std::equal(ids[i].begin(), ids[i].end(), fi.begin() + i * w) ||
        !std::equal(types[i].begin(), types[i].end(), ft.begin() + i * w) ||
        !std::equal(mask[i].begin(), mask[i].end(), fm.begin() + i * w))
      __builtin_trap();
  return 0;
}
