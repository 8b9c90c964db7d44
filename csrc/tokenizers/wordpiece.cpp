#include "tokenizers/wordpiece.h"

#include <algorithm>
#include <array>

#include "common/check.h"
#include "tokenizers/unicode.h"

namespace tf::tok {
namespace {
enum : uint8_t { kAsciiWord = 0, kAsciiSpace = 1, kAsciiDrop = 2, kAsciiPunct = 3 };
// BERT's view of every ASCII byte: \t\n\r and space split, other controls are dropped,
// every printable non-alphanumeric is punctuation.
constexpr auto kAsciiClass = [] {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
      t[c] = kAsciiSpace;
    else if (c < 32 || c == 127)
      t[c] = kAsciiDrop;
    else if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
      t[c] = kAsciiPunct;
  }
  return t;
}();
}  // namespace

WordPieceModel::WordPieceModel(const std::vector<std::string>& vocab, BertOptions opt) : opt_(opt), tokens_(vocab) {
  TF_CHECK(opt.max_input_chars_per_word >= 0, "max_input_chars_per_word must be >= 0");
  for (size_t i = 0; i < vocab.size(); ++i) {
    check_utf8(vocab[i], true, "vocabulary entry");
    whole_.set(vocab[i], static_cast<int32_t>(i));
    if (vocab[i].size() > 2 && vocab[i][0] == '#' && vocab[i][1] == '#')
      cont_.set(std::string_view(vocab[i]).substr(2), static_cast<int32_t>(i));
  }
}

// Per-call buffers, reused across calls on the same thread.
struct WordPieceModel::Scratch {
  std::string tok;              // current whitespace token, UTF-8
  std::vector<int32_t> tok_pos;  // code point index of every byte of tok
  bool ascii = true;
  std::u32string u, v;
  std::vector<int32_t> pu, pv;
  std::string low;
  std::vector<int32_t> low_pos;
  std::string wordbuf;
  std::vector<int32_t> word_pos;
};

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

template <bool kOffsets>
void WordPieceModel::basic(std::string_view seg, int32_t pos_base, const NeverSplit* never_split,
                           Scratch& s, Encoding* out, std::vector<std::string>* words) const {
  // Emits one word after lower-casing/punctuation splitting (into WordPiece or into `words`).
  auto emit_word = [&](std::string_view w, const int32_t* pos) {
    if (w.empty()) return;
    if (words)
      words->emplace_back(w);
    else
      word<kOffsets>(w, pos, *out);
  };
  // _run_split_on_punc, then the final whitespace split
  auto split_punct = [&](std::string_view t, const int32_t* pos) {
    const auto* p = reinterpret_cast<const unsigned char*>(t.data());
    size_t i = 0, wstart = 0;
    while (i < t.size()) {
      const unsigned char* q = p + i;
      char32_t c = decode_utf8(q);
      size_t next = static_cast<size_t>(q - p);
      uint16_t f = flags(c);
      if (f & (kBertPunct | kPySpace)) {
        emit_word(t.substr(wstart, i - wstart), pos + wstart);
        if (f & kBertPunct) emit_word(t.substr(i, next - i), pos + i);
        wstart = next;
      }
      i = next;
    }
    emit_word(t.substr(wstart), pos + wstart);
  };
  auto flush = [&]() {
    if (s.tok.empty()) return;
    const int32_t* tpos = kOffsets ? s.tok_pos.data() : nullptr;
    if (opt_.do_lower_case && !(never_split && never_split->contains(s.tok))) {
      if (s.ascii) {
        for (char& ch : s.tok)
          if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
        split_punct(s.tok, tpos);
      } else {
        // str.lower, NFD, drop Mn; positions follow every code point
        s.u.clear();
        s.pu.clear();
        const auto* p = reinterpret_cast<const unsigned char*>(s.tok.data());
        const auto* e = p + s.tok.size();
        while (p < e) {
          if (kOffsets) s.pu.push_back(s.tok_pos[p - reinterpret_cast<const unsigned char*>(s.tok.data())]);
          s.u.push_back(decode_utf8(p));
        }
        lower_str(s.u, s.v, kOffsets ? &s.pu : nullptr, kOffsets ? &s.pv : nullptr);
        nfd_str(s.v, s.u, kOffsets ? &s.pv : nullptr, kOffsets ? &s.pu : nullptr);
        s.low.clear();
        s.low_pos.clear();
        for (size_t i = 0; i < s.u.size(); ++i) {
          if (flags(s.u[i]) & kMn) continue;
          size_t before = s.low.size();
          append_utf8(s.u[i], s.low);
          if (kOffsets) s.low_pos.insert(s.low_pos.end(), s.low.size() - before, s.pu[i]);
        }
        split_punct(s.low, kOffsets ? s.low_pos.data() : nullptr);
      }
    } else {
      split_punct(s.tok, tpos);
    }
    s.tok.clear();
    s.tok_pos.clear();
    s.ascii = true;
  };

  s.tok.clear();
  s.tok_pos.clear();
  s.ascii = true;
  const auto* p = reinterpret_cast<const unsigned char*>(seg.data());
  const size_t n = seg.size();
  size_t i = 0;
  int32_t cp = pos_base;
  while (i < n) {
    // ASCII fast path: a whitespace token of ASCII letters, digits and punctuation
    if (p[i] < 0x80 && s.tok.empty()) {
      const uint8_t c0 = kAsciiClass[p[i]];
      if (c0 == kAsciiSpace || c0 == kAsciiDrop) {
        ++i;
        ++cp;
        continue;
      }
      size_t j = i;
      bool drops = false;
      while (j < n && p[j] < 0x80 && kAsciiClass[p[j]] != kAsciiSpace) {
        drops |= kAsciiClass[p[j]] == kAsciiDrop;
        ++j;
      }
      if (!drops && (j == n || p[j] < 0x80)) {
        ascii_token<kOffsets>(seg.substr(i, j - i), cp, never_split, s, out, words);
        cp += static_cast<int32_t>(j - i);
        i = j;
        continue;
      }
    }
    // General path, one code point at a time, until the whitespace token ends.
    const unsigned char* start = p + i;
    const unsigned char* q = start;
    char32_t c = decode_utf8(q);
    const size_t len = static_cast<size_t>(q - start);
    i += len;
    const int32_t here = cp++;
    uint16_t f = flags(c);
    if (f & kBertDrop) continue;
    if (f & (kBertWs | kPySpace)) {
      flush();
      continue;
    }
    if ((f & kCjk) && opt_.tokenize_chinese_chars) {
      flush();
      s.tok.append(reinterpret_cast<const char*>(start), len);
      if (kOffsets) s.tok_pos.insert(s.tok_pos.end(), len, here);
      s.ascii = false;
      flush();
      continue;
    }
    s.tok.append(reinterpret_cast<const char*>(start), len);
    if (kOffsets) s.tok_pos.insert(s.tok_pos.end(), len, here);
    if (c >= 0x80) s.ascii = false;
  }
  flush();
}

template <bool kOffsets>
void WordPieceModel::ascii_token(std::string_view t, int32_t pos0, const NeverSplit* never_split,
                                 Scratch& s, Encoding* out, std::vector<std::string>* words) const {
  const bool lower = opt_.do_lower_case && !(never_split && never_split->contains(t));
  if (kOffsets) {
    s.word_pos.resize(t.size());
    for (size_t k = 0; k < t.size(); ++k) s.word_pos[k] = pos0 + static_cast<int32_t>(k);
  }
  auto emit = [&](size_t b, size_t e) {
    std::string_view w = t.substr(b, e - b);
    if (lower) {
      s.wordbuf.assign(w);
      for (char& ch : s.wordbuf)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
      w = s.wordbuf;
    }
    if (words)
      words->emplace_back(w);
    else
      word<kOffsets>(w, kOffsets ? s.word_pos.data() + b : nullptr, *out);
  };
  size_t wstart = 0;
  for (size_t k = 0; k < t.size(); ++k) {
    if (kAsciiClass[static_cast<unsigned char>(t[k])] == kAsciiPunct) {
      if (k > wstart) emit(wstart, k);
      emit(k, k + 1);
      wstart = k + 1;
    }
  }
  if (t.size() > wstart) emit(wstart, t.size());
}

void WordPieceModel::encode(std::string_view seg, int32_t pos_base, const SegmentContext& ctx, Encoding& out,
                            bool offsets) const {
  if (!opt_.do_basic_tokenize) {
    wordpiece_only(seg, pos_base, out, offsets);
    return;
  }
  thread_local Scratch s;
  if (offsets)
    basic<true>(seg, pos_base, ctx.never_split, s, &out, nullptr);
  else
    basic<false>(seg, pos_base, ctx.never_split, s, &out, nullptr);
}

std::vector<std::string> WordPieceModel::basic_tokenize(std::string_view text, const NeverSplit& never_split) const {
  check_utf8(text, true, "text");
  thread_local Scratch s;
  std::vector<std::string> words;
  basic<false>(text, 0, &never_split, s, nullptr, &words);
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
