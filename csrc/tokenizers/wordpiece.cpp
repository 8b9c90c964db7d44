#include "tokenizers/wordpiece.h"

#include <algorithm>

#include "common/check.h"
#include "tokenizers/unicode.h"

namespace tf::tok {

WordPieceModel::WordPieceModel(const std::vector<std::string>& vocab, BertOptions opt, std::vector<int64_t> ids)
    : opt_(opt), basic_(opt), tokens_(vocab), ids_(std::move(ids)) {
  TF_CHECK(opt.max_input_chars_per_word >= 0, "max_input_chars_per_word must be >= 0");
  TF_CHECK(ids_.empty() || ids_.size() == vocab.size(), "vocab and ids must have the same length");
  for (size_t i = 0; i < vocab.size(); ++i) {
    check_utf8(vocab[i], true, "vocabulary entry");
    whole_.set(vocab[i], static_cast<int32_t>(i));
    if (vocab[i].size() > 2 && vocab[i][0] == '#' && vocab[i][1] == '#')
      cont_.set(std::string_view(vocab[i]).substr(2), static_cast<int32_t>(i));
  }
}


template <bool kOffsets>
void WordPieceModel::word(std::string_view w, const int32_t* pos, Encoding& out) const {
  const size_t n = w.size();
  if (n == 0) return;
  const auto* p = reinterpret_cast<const unsigned char*>(w.data());
  // code points > max_input_chars_per_word -> [UNK]
  size_t cps = 0;
  for (size_t i = 0; i < n; ++i) cps += (p[i] & 0xC0) != 0x80;
  if (cps > static_cast<size_t>(opt_.max_input_chars_per_word)) {
    out.push(kUnkPiece, kOffsets ? pos[0] : 0, kOffsets ? pos[n - 1] + 1 : 0, kOffsets);
    return;
  }
  const size_t mark = out.codes.size();
  size_t start = 0;
  while (start < n) {
    const StrMap& map = start == 0 ? whole_ : cont_;
    size_t end = std::min(n, start + map.max_key_len());
    while (end < n && (p[end] & 0xC0) == 0x80) --end;  // back to a character boundary
    int32_t id = -1;
    while (end > start) {
      id = map.get(w.substr(start, end - start));
      if (id >= 0) break;
      do {
        --end;
      } while (end > start && (p[end] & 0xC0) == 0x80);
    }
    if (id < 0) {  // one piece fails: the whole word is [UNK]
      out.codes.resize(mark);
      if (kOffsets) {
        out.starts.resize(mark);
        out.ends.resize(mark);
      }
      out.push(kUnkPiece, kOffsets ? pos[0] : 0, kOffsets ? pos[n - 1] + 1 : 0, kOffsets);
      return;
    }
    out.push(id, kOffsets ? pos[start] : 0, kOffsets ? pos[end - 1] + 1 : 0, kOffsets);
    start = end;
  }
}


// Words are collected, then looked up in the cache together, so that the cache lines of the words ahead load
// while the words before them are handled.
struct WordPieceModel::Words {
  std::string text;  // the words one after another
  struct Span {
    uint32_t b, n;
    uint64_t lo, hi, h;  // WordCache key and hash (short words)
  };
  std::vector<Span> spans;
  WordCache cache;
};

WordPieceModel::~WordPieceModel() = default;

void WordPieceModel::flush_words(Words& ws, Encoding& out) const {
  ws.text.append(WordCache::kPad, '\0');
  const char* t = ws.text.data();
  for (Words::Span& sp : ws.spans) {
    if (sp.n > WordCache::kMaxKey) continue;
    const WordCache::Key k = WordCache::key(t + sp.b, sp.n);
    sp.lo = k.lo;
    sp.hi = k.hi;
    sp.h = WordCache::hash(k);
    ws.cache.prefetch_l2(sp.h);
  }
  const size_t nw = ws.spans.size();
  constexpr size_t kAhead = 8;
  for (size_t k = 0; k < nw; ++k) {
    if (k + kAhead < nw && ws.spans[k + kAhead].n <= WordCache::kMaxKey) ws.cache.prefetch(ws.spans[k + kAhead].h);
    const Words::Span& sp = ws.spans[k];
    const std::string_view w(t + sp.b, sp.n);
    const bool short_word = sp.n <= WordCache::kMaxKey;
    const WordCache::Key key{sp.lo, sp.hi};
    size_t count = 0;
    const int32_t* codes = short_word ? ws.cache.find(key, sp.h, count) : ws.cache.find_long(w, count);
    if (codes) {
      for (size_t i = 0; i < count; ++i) out.codes.push_back(codes[i]);
      continue;
    }
    const size_t mark = out.codes.size();
    word<false>(w, nullptr, out);
    if (short_word)
      ws.cache.put(key, sp.h, out.codes.data() + mark, out.codes.size() - mark);
    else
      ws.cache.put_long(w, out.codes.data() + mark, out.codes.size() - mark);
  }
  ws.text.clear();
  ws.spans.clear();
}

void WordPieceModel::encode(std::string_view seg, int32_t pos_base, const SegmentContext& ctx, Encoding& out,
                            bool offsets) const {
  if (!opt_.do_basic_tokenize) {
    wordpiece_only(seg, pos_base, out, offsets);
    return;
  }
  BasicScratch& s = thread_scratch<BasicScratch>();
  if (offsets) {
    basic_.run<true>(seg, pos_base, ctx.never_split, s, [&](std::string_view w, const int32_t* pos) { word<true>(w, pos, out); });
    return;
  }
  std::unique_ptr<Words> local;
  Words* ws = words_.get();
  if (!ws) ws = (local = std::make_unique<Words>()).get();  // more live threads than slots
  ws->text.clear();
  ws->spans.clear();
  constexpr size_t kBatch = 256;  // words per flush
  basic_.run<false>(seg, pos_base, ctx.never_split, s, [&](std::string_view w, const int32_t*) {
    Words::Span& sp = ws->spans.emplace_back();  // set field by field: a copy of a built Span stalled on store forwarding
    sp.b = static_cast<uint32_t>(ws->text.size());
    sp.n = static_cast<uint32_t>(w.size());
    ws->text.append(w);
    if (ws->spans.size() >= kBatch) flush_words(*ws, out);
  });
  flush_words(*ws, out);
}

std::vector<std::string> WordPieceModel::basic_tokenize(std::string_view text, const NeverSplit& never_split) const {
  check_utf8(text, true, "text");
  BasicScratch& s = thread_scratch<BasicScratch>();
  std::vector<std::string> words;
  basic_.run<false>(text, 0, &never_split, s, [&](std::string_view w, const int32_t*) { words.emplace_back(w); });
  return words;
}

void WordPieceModel::wordpiece_only(std::string_view text, int32_t pos_base, Encoding& out, bool offsets) const {
  // whitespace_tokenize (str.split), then WordPiece on every token
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  std::vector<int32_t> pos;
  size_t i = 0, wstart = 0;
  int32_t cp = pos_base;
  auto emit = [&](size_t b, size_t e) {
    if (b >= e) return;
    if (offsets)
      word<true>(text.substr(b, e - b), pos.data() + b, out);
    else
      word<false>(text.substr(b, e - b), nullptr, out);
  };
  if (offsets) pos.resize(n);
  while (i < n) {
    const unsigned char* q = p + i;
    char32_t c = decode_utf8(q);
    size_t next = static_cast<size_t>(q - p);
    if (offsets)
      for (size_t k = i; k < next; ++k) pos[k] = cp;
    ++cp;
    if (flags(c) & kPySpace) {
      emit(wstart, i);
      wstart = next;
    }
    i = next;
  }
  emit(wstart, n);
}

}  // namespace tf::tok
