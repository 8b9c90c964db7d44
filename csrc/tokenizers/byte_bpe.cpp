#include "tokenizers/byte_bpe.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "common/check.h"
#include "tokenizers/byte_bpe_scan.h"
#include "tokenizers/unicode.h"

namespace tf::tok {

const std::vector<char32_t>& byte_to_unicode() {
  static const std::vector<char32_t> table = [] {
    std::vector<char32_t> t(256, 0);
    std::vector<bool> direct(256, false);
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    int n = 0;
    for (int b = 0; b < 256; ++b) t[b] = direct[b] ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
    return t;
  }();
  return table;
}

namespace {
enum Cls : uint8_t { kL, kN, kS, kO };
inline Cls cls_of_slow(char32_t c) {
  uint16_t f = flags(c);
  return (f & kRxL) ? kL : (f & kRxN) ? kN : (f & kRxS) ? kS : kO;
}
// Class of every ASCII byte; kMulti for the lead and continuation bytes of longer characters.
constexpr uint8_t kMulti = 4;
const std::array<uint8_t, 256> kByteCls = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 128 ? cls_of_slow(static_cast<char32_t>(c)) : kMulti;
  return t;
}();
inline Cls cls_of(char32_t c) { return c < 128 ? static_cast<Cls>(kByteCls[c]) : cls_of_slow(c); }

// 0x80 in every byte of x that is ASCII and in [lo, hi] (bytes added without carries between them).
inline uint64_t ascii_in_range(uint64_t x, unsigned lo, unsigned hi) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  const uint64_t low7 = x & ~kHigh;
  return (low7 + kOnes * (0x80 - lo)) & ~(low7 + kOnes * (0x7F - hi)) & ~x & kHigh;
}
// Bytes of x in class k (ASCII letters or digits, the only ASCII \p{L} and \p{N}).
inline uint64_t ascii_of_class(uint64_t x, Cls k) {
  return k == kL ? ascii_in_range(x | 0x2020202020202020ULL, 'a', 'z') : ascii_in_range(x, '0', '9');
}

struct Cp {
  char32_t c;
  size_t next;
};
inline Cp cp_at(const unsigned char* p, size_t i) {
  if (p[i] < 0x80) return {p[i], i + 1};
  const unsigned char* q = p + i;
  char32_t c = decode_utf8(q);
  return {c, static_cast<size_t>(q - p)};
}

// End of the run of class k (a letter, digit or other) from `from`.
inline size_t run_end(const unsigned char* p, size_t n, size_t from, Cls k) {
  size_t j = from;
  for (;;) {
    if (k == kL || k == kN) {
      // 8 bytes at a time: a word's end is found in the first step, no mispredicted exit per byte
      while (j + 8 <= n) {
        uint64_t x;
        std::memcpy(&x, p + j, 8);
        uint64_t stop = ~ascii_of_class(x, k) & 0x8080808080808080ULL;
        if (stop) {
          j += static_cast<size_t>(__builtin_ctzll(stop)) >> 3;
          break;
        }
        j += 8;
      }
    }
    while (j < n && kByteCls[p[j]] == k) ++j;  // ASCII: one table load per byte
    if (j >= n || p[j] < 0x80) return j;
    Cp x = cp_at(p, j);
    if (cls_of(x.c) != k) return j;
    j = x.next;
  }
}

// End of the pre-token that starts at i: the regex's match there (which depends on the text from i on only).
inline size_t token_end(const unsigned char* p, size_t n, size_t i) {
  if (p[i] == '\'') {
    if (const size_t len = gpt2_scan::contraction_len(p, n, i)) return i + len;
  }
  Cp x = cp_at(p, i);
  if (x.c == ' ' && x.next < n) {
    Cls k = cls_of(cp_at(p, x.next).c);
    if (k != kS) return run_end(p, n, x.next, k);
  }
  Cls k = cls_of(x.c);
  if (k != kS) return run_end(p, n, i, k);
  // \s+(?!\S) then \s+: a whitespace run before a non-space leaves its last character to it
  size_t j = i, last = i;
  while (j < n) {
    Cp y = cp_at(p, j);
    if (cls_of(y.c) != kS) break;
    last = j;
    j = y.next;
  }
  return (j == n || last == i) ? j : last;
}

// The scalar scanner: emits the pre-tokens from tok (a pre-token start) until one starts at or after limit;
// returns that start. Inline: out of line it cost the block scanner 15 % on English text.
template <typename Emit>
__attribute__((always_inline)) inline size_t pretokenize_scalar(const unsigned char* p, size_t n, size_t tok,
                                                                size_t limit, Emit& emit) {
  while (tok < limit) {
    const size_t e = token_end(p, n, tok);
    emit(tok, e);
    tok = e;
  }
  return tok;
}

// The scanner on AVX2 / AVX-512: start masks of 64-byte blocks (byte_bpe_scan.cpp), the bytes whose mask bit
// depends on a non-ASCII character taken through token_end.
template <typename Emit>
void pretokenize_blocks(const unsigned char* p, size_t n, gpt2_scan::MaskBlocks mask_blocks, Emit& emit) {
  using gpt2_scan::kBlock;
  using gpt2_scan::kChunk;
  uint64_t starts[kChunk], dirty[kChunk];
  gpt2_scan::Carry carry;
  size_t tok = 0;  // the pre-token whose end is not known yet
  // Chunks left to the scalar path after chunks nearly all non-ASCII (CJK: masks there cost 5-10 %); doubled
  // while the text stays so.
  size_t skip = 0, next_skip = 1;
  for (size_t base = 0; base < n; base += kBlock * kChunk) {
    const size_t blocks = std::min(kChunk, (n - base + kBlock - 1) / kBlock);
    if (skip) {
      --skip;
      tok = pretokenize_scalar(p, n, tok, std::min(base + blocks * kBlock, n), emit);
      carry = gpt2_scan::Carry{};
      carry.high = ~uint64_t{0};  // unknown: the next block's first bytes go through the scalar path
      continue;
    }
    if (mask_blocks(p, n, base, blocks, carry, starts, dirty) * 8 > blocks * 7) {
      skip = next_skip;
      next_skip = std::min<size_t>(2 * next_skip, 16);
    } else {
      next_skip = 1;
    }
    for (size_t k = 0; k < blocks; ++k) {
      const size_t b = base + kBlock * k;
      uint64_t m = starts[k], d = dirty[k];
      auto past_tok = [&]() __attribute__((always_inline)) {  // only the bits after tok are still to do
        const uint64_t keep = tok < b ? ~uint64_t{0} : tok - b >= kBlock - 1 ? 0 : ~uint64_t{0} << (tok - b + 1);
        m &= keep;
        d &= keep;
      };
      auto emit_starts = [&](uint64_t bits) __attribute__((always_inline)) {
        for (; bits; bits &= bits - 1) {
          const size_t s = b + static_cast<size_t>(__builtin_ctzll(bits));
          emit(tok, s);
          tok = s;
        }
      };
      past_tok();
      while (d) {
        const unsigned at = static_cast<unsigned>(__builtin_ctzll(d));
        emit_starts(m & ((uint64_t{1} << at) - 1));
        const uint64_t clean = ~(d >> at);
        const size_t end = b + at + (clean ? static_cast<size_t>(__builtin_ctzll(clean)) : kBlock);
        tok = pretokenize_scalar(p, n, tok, end, emit);  // the dirty run, from the last start before it
        past_tok();
      }
      emit_starts(m);
    }
  }
  if (tok < n) emit(tok, n);
}

}  // namespace

// Calls emit(begin, end) for every pre-token of text (byte offsets).
template <typename Emit>
void gpt2_pretokenize(std::string_view text, Emit&& emit) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  if (const gpt2_scan::MaskBlocks mask_blocks = gpt2_scan::mask_blocks_for_cpu()) {
    pretokenize_blocks(p, n, mask_blocks, emit);
    return;
  }
  pretokenize_scalar(p, n, 0, n, emit);
}

struct ByteLevelBpeModel::Scratch {
  std::string text;
  std::vector<int32_t> pos, syms;
  struct Word {
    uint32_t b, e;    // bytes in the text
    uint64_t lo, hi;  // WordCache::Key, stored field by field (a 16-byte copy of it stalled on store forwarding)
    uint64_t h;
    uint32_t at;        // a miss: where its codes go among the hits' codes in res
    uint32_t off, cnt;  // a miss: its codes, res[off .. off + cnt)
  };
  std::vector<Word> words;
  std::vector<int32_t> res;                     // the words' codes
  std::vector<uint32_t> misses, batch;          // words the cache lacks; those in BPE now
  std::vector<int32_t> begins, lens;            // their symbols in syms
  WordCache cache;
  BpeWork work;
};

ByteLevelBpeModel::ByteLevelBpeModel(const std::unordered_map<std::string, int64_t>& encoder,
                                     const std::vector<std::pair<std::string, std::string>>& merges,
                                     PrefixSpace prefix_space)
    : prefix_space_(prefix_space) {
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) unicode_to_byte_[b2u[b]] = static_cast<unsigned char>(b);
  for (int b = 0; b < 256; ++b) merges_.intern(std::string(1, static_cast<char>(b)));
  std::string l, r;
  for (size_t i = 0; i < merges.size(); ++i) {
    check_utf8(merges[i].first, true, "merge");
    check_utf8(merges[i].second, true, "merge");
    if (!to_bytes(merges[i].first, l) || !to_bytes(merges[i].second, r) || l.empty() || r.empty()) continue;
    merges_.add_merge(merges_.intern(l), merges_.intern(r), static_cast<int32_t>(i));
  }
  StrMap vocab;
  std::vector<int64_t> ids;
  std::string bytes;
  for (const auto& [tok, id] : encoder) {
    check_utf8(tok, true, "vocabulary entry");
    if (!to_bytes(tok, bytes)) continue;
    vocab.set(bytes, static_cast<int32_t>(ids.size()));
    ids.push_back(id);
  }
  const int32_t ns = merges_.num_symbols();
  sym_len_.resize(ns);
  for (int32_t s = 0; s < ns; ++s) sym_len_[s] = static_cast<int32_t>(merges_.str(s).size());
  // A word equal to such a symbol needs no merging (checked once here, so the shortcut is exact).
  // The short ones (with their encodings) seed every thread's word cache: text never seen before then still
  // finds its vocabulary words there, and a short word the cache lacks is never one of them.
  whole_.assign(ns, 0);
  std::vector<int32_t> syms;
  for (int32_t s = 0; s < ns; ++s) {
    const std::string& str = merges_.str(s);
    syms.clear();
    for (unsigned char c : str) syms.push_back(c);
    merges_.apply(syms, nullptr);
    whole_[s] = syms.size() == 1 && syms[0] == s;
    if (str.size() <= WordCache::kMaxKey && syms.size() <= WordCache::kInline) {
      char padded[WordCache::kMaxKey + WordCache::kPad] = {};
      std::memcpy(padded, str.data(), str.size());
      seed_.push_back(WordCache::seed_entry(WordCache::key(padded, str.size()), syms.data(), syms.size()));
    }
  }
  if (Scratch* s = scratch_.get()) s->cache.start_from(&seed_);  // the constructing thread's, often the only one
  piece_str_.resize(ns);
  piece_vocab_.resize(ns);
  for (int32_t s = 0; s < ns; ++s) {
    std::string u;
    for (unsigned char c : merges_.str(s)) append_utf8(b2u[c], u);
    piece_str_[s] = std::move(u);
    int32_t k = vocab.get(merges_.str(s));
    piece_vocab_[s] = k >= 0 ? ids[k] : kNoId;
  }
}

bool ByteLevelBpeModel::to_bytes(std::string_view unicode_form, std::string& out) const {
  out.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(unicode_form.data());
  const auto* e = p + unicode_form.size();
  while (p < e) {
    auto it = unicode_to_byte_.find(decode_utf8(p));
    if (it == unicode_to_byte_.end()) return false;
    out.push_back(static_cast<char>(it->second));
  }
  return true;
}

int32_t ByteLevelBpeModel::find_piece(std::string_view s) const {
  std::string bytes;
  if (find_invalid_utf8(s, true) != std::string_view::npos || !to_bytes(s, bytes)) return -1;
  return merges_.find(bytes);
}

ByteLevelBpeModel::~ByteLevelBpeModel() = default;

void ByteLevelBpeModel::encode(std::string_view seg, int32_t pos_base, const SegmentContext&, Encoding& out,
                               bool offsets) const {
  std::unique_ptr<Scratch> local;
  Scratch* sp = scratch_.get();
  if (!sp)
    sp = (local = std::make_unique<Scratch>()).get();  // more live threads than slots: a cache for this call, unseeded
  else if (sp->cache.seed() != &seed_)
    sp->cache.start_from(&seed_);  // the thread's first call
  Scratch& s = *sp;
  // 1.2.0 prepends a space (transformers: as add_prefix_space says); the zero bytes after the text let the cache
  // read words in 8-byte loads. The word cache is keyed by a pre-token's own bytes, so it serves every setting.
  constexpr size_t kPad = 24;
  static_assert(kPad >= WordCache::kPad, "pad the text for WordCache::key");
  const size_t pre = prefix_space_ == PrefixSpace::always ||
                     (prefix_space_ == PrefixSpace::if_absent && !seg.empty() && seg[0] != ' ');  // 0 or 1 byte
  std::string& buf = s.text;
  buf.assign(pre, ' ');
  buf.append(seg);
  buf.append(kPad, '\0');
  const std::string_view text(buf.data(), buf.size() - kPad);
  std::vector<int32_t>& pos = s.pos;
  if (offsets) {
    pos.assign(text.size() + 1, pos_base);
    int32_t cp = pos_base;
    for (size_t b = pre; b < text.size(); ++b) {
      pos[b] = cp;
      if (b + 1 >= text.size() || (static_cast<unsigned char>(text[b + 1]) & 0xC0) != 0x80) ++cp;
    }
    pos[text.size()] = cp;
  }
  // Pre-tokens first, so that the cache lines of the words ahead can be prefetched.
  s.words.clear();
  // always_inline: out of line (GCC's choice under -fPIC) it cost a call per pre-token
  gpt2_pretokenize(text, [&](size_t b, size_t e) __attribute__((always_inline)) {
    const WordCache::Key k = e - b <= WordCache::kMaxKey ? WordCache::key(text.data() + b, e - b) : WordCache::Key{0, 0};
    const uint64_t h = WordCache::hash(k);
    s.cache.prefetch_far(h);  // the whole text's entries start loading now, together
    Scratch::Word& w = s.words.emplace_back();
    w.b = static_cast<uint32_t>(b);
    w.e = static_cast<uint32_t>(e);
    w.lo = k.lo;
    w.hi = k.hi;
    w.h = h;
  });
  const size_t nw = s.words.size();
  // 1. Cache lookups; the codes of hits copied to res (in text order), the misses listed (with the place in res
  // their codes go).
  constexpr size_t kAhead = 8;
  for (size_t k = 0; k < std::min(kAhead, nw); ++k) s.cache.prefetch(s.words[k].h);
  s.misses.clear();
  if (s.res.size() < nw * WordCache::kInline + 8) s.res.resize(nw * WordCache::kInline + 8);
  int32_t* res = s.res.data();
  size_t r = 0;
  for (size_t k = 0; k < nw; ++k) {
    if (k + kAhead < nw) s.cache.prefetch(s.words[k + kAhead].h);
    Scratch::Word& w = s.words[k];
    const std::string_view word(text.data() + w.b, w.e - w.b);
    size_t count = 0;
    const int32_t* codes = w.e - w.b <= WordCache::kMaxKey ? s.cache.find({w.lo, w.hi}, w.h, count)
                                                           : s.cache.find_long(word, count);
    if (!codes) {
      w.at = static_cast<uint32_t>(r);
      s.misses.push_back(static_cast<uint32_t>(k));
      if (w.e - w.b > WordCache::kMaxKey) merges_.prefetch_find(word);
      continue;
    }
    if (r + count + WordCache::kInline > s.res.size()) {  // only after long encodings
      s.res.resize(2 * (r + count) + nw * WordCache::kInline);
      res = s.res.data();
    }
    std::memcpy(res + r, codes, WordCache::kInline * sizeof(int32_t));  // whatever count is: no branch on it
    if (count > WordCache::kInline) std::memcpy(res + r, codes, count * sizeof(int32_t));
    r += count;
  }
  s.res.resize(r);
  if (s.misses.empty() && !offsets) {  // the usual case once the cache is warm
    out.codes.insert(out.codes.end(), res, res + r);
    return;
  }
  // 2. Misses: a symbol of its own, or BPE, several words at a time (their lookups' cache misses overlap).
  auto remember = [&](Scratch::Word& w, const int32_t* codes, size_t count) {  // after the hits' codes in res
    w.off = static_cast<uint32_t>(s.res.size());
    w.cnt = static_cast<uint32_t>(count);
    s.res.insert(s.res.end(), codes, codes + count);
    const std::string_view word(text.data() + w.b, w.e - w.b);
    if (w.e - w.b <= WordCache::kMaxKey)
      s.cache.put({w.lo, w.hi}, w.h, codes, count);
    else
      s.cache.put_long(word, codes, count);
  };
  constexpr size_t kBatch = 16;
  for (size_t m0 = 0; m0 < s.misses.size(); m0 += kBatch) {
    s.syms.clear();
    s.batch.clear();
    s.begins.clear();
    s.lens.clear();
    for (size_t m = m0; m < std::min(s.misses.size(), m0 + kBatch); ++m) {
      Scratch::Word& w = s.words[s.misses[m]];
      // a short whole symbol is in the seeded cache (an unseeded cache merges it back to itself); a long one is looked up
      const int32_t sym = w.e - w.b > WordCache::kMaxKey ? merges_.find(std::string_view(text.data() + w.b, w.e - w.b)) : -1;
      if (sym >= 0 && whole_[sym]) {
        remember(w, &sym, 1);
        continue;
      }
      s.batch.push_back(s.misses[m]);
      s.begins.push_back(static_cast<int32_t>(s.syms.size()));
      s.lens.push_back(static_cast<int32_t>(w.e - w.b));
      for (size_t i = w.b; i < w.e; ++i) s.syms.push_back(static_cast<unsigned char>(text[i]));
    }
    merges_.apply_many(s.syms.data(), s.begins.data(), s.lens.data(), static_cast<int>(s.batch.size()), s.work);
    for (size_t j = 0; j < s.batch.size(); ++j)
      remember(s.words[s.batch[j]], s.syms.data() + s.begins[j], static_cast<size_t>(s.lens[j]));
  }
  // 3. Output, in text order: the hits' runs in res, each miss's codes where it stood.
  res = s.res.data();
  if (!offsets) {
    size_t done = 0;
    for (uint32_t k : s.misses) {
      const Scratch::Word& w = s.words[k];
      out.codes.insert(out.codes.end(), res + done, res + w.at);
      out.codes.insert(out.codes.end(), res + w.off, res + w.off + w.cnt);
      done = w.at;
    }
    out.codes.insert(out.codes.end(), res + done, res + r);
    return;
  }
  size_t next_miss = 0, at = 0;
  for (size_t k = 0; k < nw; ++k) {
    const Scratch::Word& w = s.words[k];
    const int32_t* codes;
    size_t count;
    if (next_miss < s.misses.size() && s.misses[next_miss] == k) {
      ++next_miss;
      codes = res + w.off;
      count = w.cnt;
    } else {  // a hit: the next codes of the run in res, as many as its bytes need
      codes = res + at;
      count = 0;
      for (size_t bytes = 0; bytes < w.e - w.b; ++count) bytes += static_cast<size_t>(sym_len_[codes[count]]);
      at += count;
    }
    size_t sb = w.b;
    for (size_t t = 0; t < count; ++t) {
      const int32_t code = codes[t];
      size_t se = sb + sym_len_[code];
      // a token ending inside a character still covers that character; the prepended space alone covers the
      // first character (as in Hugging Face, where the added space is aligned with it)
      out.push(code, pos[sb], se > pre ? pos[se - 1] + 1 : pos_base + 1, true);
      sb = se;
    }
  }
}

std::vector<std::string> ByteLevelBpeModel::pretokenize(std::string_view text) const {
  check_utf8(text, false, "text");
  std::vector<std::string> out;
  gpt2_pretokenize(text, [&](size_t b, size_t e) __attribute__((always_inline)) { out.emplace_back(text.substr(b, e - b)); });
  return out;
}

}  // namespace tf::tok
