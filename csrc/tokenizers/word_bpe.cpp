#include "tokenizers/word_bpe.h"

#include <atomic>

#include "common/check.h"
#include "tokenizers/unicode.h"

namespace tf::tok {
namespace {

BertOptions lower_basic() {
  BertOptions o;
  o.do_lower_case = true;
  o.tokenize_chinese_chars = true;
  return o;
}

std::atomic<uint64_t> g_serial{1};

struct Cache {
  uint64_t owner = 0;
  StrMap index;
  std::vector<std::pair<uint32_t, uint32_t>> entries;
  std::vector<int32_t> pool;
};
constexpr size_t kCacheMaxWordBytes = 64;
constexpr size_t kCacheMaxEntries = 1 << 17;

}  // namespace

WordEndBpeModel::WordEndBpeModel(const std::unordered_map<std::string, int64_t>& encoder,
                                 const std::vector<std::pair<std::string, std::string>>& merges, Split split)
    : split_(split), basic_(lower_basic()), serial_(g_serial.fetch_add(1)) {
  for (size_t i = 0; i < merges.size(); ++i) {
    const auto& [l, r] = merges[i];
    check_utf8(l, true, "merge");
    check_utf8(r, true, "merge");
    if (l.empty() || r.empty()) continue;  // not a pair: never matches
    merges_.add_merge(merges_.intern(l), merges_.intern(r), static_cast<int32_t>(i));
  }
  for (const auto& [tok, id] : encoder) {
    check_utf8(tok, true, "vocabulary entry");
    (void)id;
    merges_.intern(tok);
  }
  piece_vocab_.assign(merges_.num_symbols(), kNoId);
  for (const auto& [tok, id] : encoder) piece_vocab_[merges_.find(tok)] = id;
}

void WordEndBpeModel::word(std::string_view w, const int32_t* pos, Encoding& out, bool offsets) const {
  if (w.empty()) return;
  struct Scratch {
    std::vector<int32_t> syms, starts;
    std::vector<std::string> unknown;
    std::string buf;
    Cache cache;
    BpeWork work;
  };
  Scratch& s = thread_scratch<Scratch>();
  if (s.cache.owner != serial_ || s.cache.entries.size() >= kCacheMaxEntries) {
    s.cache.owner = serial_;
    s.cache.index.clear();
    s.cache.entries.clear();
    s.cache.pool.clear();
  }
  const int32_t* merged = nullptr;
  size_t count = 0;
  int32_t hit = !offsets && w.size() <= kCacheMaxWordBytes ? s.cache.index.get(w) : -1;
  if (hit >= 0) {
    merged = s.cache.pool.data() + s.cache.entries[hit].first;
    count = s.cache.entries[hit].second;
    out.codes.insert(out.codes.end(), merged, merged + count);
    return;
  }
  // characters; the last one carries "</w>"; unknown symbols get ids -2, -3, ...
  s.syms.clear();
  s.starts.clear();
  s.unknown.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(w.data());
  size_t i = 0;
  while (i < w.size()) {
    size_t len = static_cast<size_t>(utf8_len(p[i]));
    s.buf.assign(w.substr(i, len));
    if (i + len >= w.size()) s.buf += "</w>";
    int32_t sym = merges_.find(s.buf);
    if (sym < 0) {
      s.unknown.push_back(s.buf);
      sym = -static_cast<int32_t>(s.unknown.size()) - 1;
    }
    s.syms.push_back(sym);
    s.starts.push_back(static_cast<int32_t>(i));
    i += len;
  }
  merges_.apply(s.syms, &s.starts, s.work);
  bool cacheable = s.unknown.empty() && w.size() <= kCacheMaxWordBytes;
  for (size_t t = 0; t < s.syms.size(); ++t) {
    int32_t code = s.syms[t];
    if (code < 0) {
      out.extra.push_back(s.unknown[-code - 2]);
      code = kExtraPiece0 - static_cast<int32_t>(out.extra.size() - 1);
    }
    if (offsets) {
      size_t sb = s.starts[t], se = t + 1 < s.syms.size() ? s.starts[t + 1] : w.size();
      out.push(code, pos[sb], pos[se - 1] + 1, true);
    } else {
      out.codes.push_back(code);
    }
  }
  if (cacheable && !offsets) {
    s.cache.index.set(w, static_cast<int32_t>(s.cache.entries.size()));
    s.cache.entries.emplace_back(static_cast<uint32_t>(s.cache.pool.size()), static_cast<uint32_t>(s.syms.size()));
    s.cache.pool.insert(s.cache.pool.end(), s.syms.begin(), s.syms.end());
  }
}

void WordEndBpeModel::encode(std::string_view seg, int32_t pos_base, const SegmentContext&, Encoding& out,
                             bool offsets) const {
  if (split_ == Split::kBasicLower) {
    BasicScratch& s = thread_scratch<BasicScratch>();
    // 1.2.0's OpenAI GPT calls BasicTokenizer.tokenize(text) without never_split
    if (offsets)
      basic_.run<true>(seg, pos_base, nullptr, s, [&](std::string_view w, const int32_t* pos) { word(w, pos, out, true); });
    else
      basic_.run<false>(seg, pos_base, nullptr, s, [&](std::string_view w, const int32_t*) { word(w, nullptr, out, false); });
    return;
  }
  // words separated by single spaces
  std::vector<int32_t> pos;
  if (offsets) {
    pos.resize(seg.size());
    int32_t cp = pos_base;
    for (size_t b = 0; b < seg.size(); ++b) {
      if ((static_cast<unsigned char>(seg[b]) & 0xC0) != 0x80 && b > 0) ++cp;
      pos[b] = cp;
    }
  }
  size_t start = 0;
  for (size_t i = 0; i <= seg.size(); ++i) {
    if (i == seg.size() || seg[i] == ' ') {
      if (i > start) word(seg.substr(start, i - start), offsets ? pos.data() + start : nullptr, out, offsets);
      start = i + 1;
    }
  }
}

}  // namespace tf::tok
