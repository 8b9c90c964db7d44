// BERT's BasicTokenizer (1.2.0): clean control characters and whitespace, wrap CJK ideographs in
// spaces, split on whitespace, lower-case + NFD + drop Mn unless never_split, split punctuation.
// Words go to a sink(word, positions) (WordPiece, BPE, or a list), with the code point index of
// every byte when offsets are wanted.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/pipeline.h"
#include "tokenizers/unicode.h"

namespace tf::tok {

struct BertOptions {
  bool do_basic_tokenize = true;
  bool do_lower_case = true;
  bool tokenize_chinese_chars = true;
  int max_input_chars_per_word = 100;
  // transformers' strip_accents: -1 (None) as do_lower_case, 0 keep accents, 1 strip them (NFD, drop Mn)
  int strip_accents = -1;
};

namespace basic_detail {
enum : uint8_t { kAsciiWord = 0, kAsciiSpace = 1, kAsciiDrop = 2, kAsciiPunct = 3 };
// BERT's view of every ASCII byte: \t\n\r and space split, other controls are dropped,
// every printable non-alphanumeric is punctuation.
inline constexpr auto kAsciiClass = [] {
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
// 0x80 in every byte of x that is ASCII and in [lo, hi] (bytes added without carries between them).
inline uint64_t ascii_in_range(uint64_t x, unsigned lo, unsigned hi) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  const uint64_t low7 = x & ~kHigh;
  return (low7 + kOnes * (0x80 - lo)) & ~(low7 + kOnes * (0x7F - hi)) & ~x & kHigh;
}
inline uint64_t load8(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}
// 0x80 in every byte of x that is an ASCII letter or digit.
inline uint64_t ascii_alnum(uint64_t x) {
  return ascii_in_range(x | 0x2020202020202020ULL, 'a', 'z') | ascii_in_range(x, '0', '9');
}
}  // namespace basic_detail

// Per-call buffers, reused across calls on the same thread.
struct BasicScratch {
  std::string tok;               // current whitespace token, UTF-8
  std::vector<int32_t> tok_pos;  // code point index of every byte of tok
  bool ascii = true;
  std::u32string u, v;
  std::vector<int32_t> pu, pv;
  std::string low;
  std::vector<int32_t> low_pos;
  std::string wordbuf;
  std::vector<int32_t> word_pos;
};

class BasicTokenizer {
 public:
  explicit BasicTokenizer(BertOptions opt) : opt_(opt) {}
  template <bool kOffsets, typename Sink>
  void run(std::string_view seg, int32_t pos_base, const NeverSplit* never_split, BasicScratch& s,
           Sink&& sink) const;

 private:
  template <bool kOffsets, typename Sink>
  void ascii_token(std::string_view t, int32_t pos0, const NeverSplit* never_split, BasicScratch& s,
                   Sink& sink) const;
  BertOptions opt_;
};

template <bool kOffsets, typename Sink>
void BasicTokenizer::run(std::string_view seg, int32_t pos_base, const NeverSplit* never_split, BasicScratch& s,
                         Sink&& sink) const {
  auto emit_word = [&](std::string_view w, const int32_t* pos) {
    if (!w.empty()) sink(w, pos);
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
        emit_word(t.substr(wstart, i - wstart), kOffsets ? pos + wstart : nullptr);
        if (f & kBertPunct) emit_word(t.substr(i, next - i), kOffsets ? pos + i : nullptr);
        wstart = next;
      }
      i = next;
    }
    emit_word(t.substr(wstart), kOffsets ? pos + wstart : nullptr);
  };
  const bool lower = opt_.do_lower_case;
  const bool strip = opt_.strip_accents < 0 ? lower : opt_.strip_accents > 0;
  auto flush = [&]() {
    if (s.tok.empty()) return;
    const int32_t* tpos = kOffsets ? s.tok_pos.data() : nullptr;
    if ((lower || strip) && !(never_split && never_split->contains(s.tok))) {
      if (s.ascii) {  // (no accents)
        if (lower)
          for (char& ch : s.tok)
            if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
        split_punct(s.tok, tpos);
      } else {
        // str.lower, then NFD and drop Mn; positions follow every code point
        s.u.clear();
        s.pu.clear();
        const auto* p = reinterpret_cast<const unsigned char*>(s.tok.data());
        const auto* e = p + s.tok.size();
        while (p < e) {
          if (kOffsets) s.pu.push_back(s.tok_pos[p - reinterpret_cast<const unsigned char*>(s.tok.data())]);
          s.u.push_back(decode_utf8(p));
        }
        if (lower) {
          lower_str(s.u, s.v, kOffsets ? &s.pu : nullptr, kOffsets ? &s.pv : nullptr);
          std::swap(s.u, s.v);
          if (kOffsets) std::swap(s.pu, s.pv);
        }
        if (strip) {
          nfd_str(s.u, s.v, kOffsets ? &s.pu : nullptr, kOffsets ? &s.pv : nullptr);
          std::swap(s.u, s.v);
          if (kOffsets) std::swap(s.pu, s.pv);
        }
        s.low.clear();
        s.low_pos.clear();
        for (size_t i = 0; i < s.u.size(); ++i) {
          if (strip && (flags(s.u[i]) & kMn)) continue;
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
      const uint8_t c0 = basic_detail::kAsciiClass[p[i]];
      if (c0 == basic_detail::kAsciiSpace || c0 == basic_detail::kAsciiDrop) {
        ++i;
        ++cp;
        continue;
      }
      // the run of printable ASCII (0x21..0x7E), 8 bytes per step
      size_t j = i;
      for (;;) {
        if (j + 8 <= n) {
          const uint64_t stop = ~basic_detail::ascii_in_range(basic_detail::load8(seg.data() + j), 0x21, 0x7E) &
                                0x8080808080808080ULL;
          if (!stop) {
            j += 8;
            continue;
          }
          j += static_cast<size_t>(__builtin_ctzll(stop)) >> 3;
          break;
        }
        while (j < n && p[j] >= 0x21 && p[j] <= 0x7E) ++j;
        break;
      }
      // ended by whitespace or the end: the token is all here (a control character or non-ASCII takes the
      // general path)
      if (j == n || (p[j] < 0x80 && basic_detail::kAsciiClass[p[j]] == basic_detail::kAsciiSpace)) {
        ascii_token<kOffsets>(seg.substr(i, j - i), cp, never_split, s, sink);
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

template <bool kOffsets, typename Sink>
void BasicTokenizer::ascii_token(std::string_view t, int32_t pos0, const NeverSplit* never_split, BasicScratch& s,
                                 Sink& sink) const {
  // t: printable ASCII (0x21..0x7E) only; every byte that is not a letter or digit is punctuation
  const bool lower = opt_.do_lower_case && !(never_split && never_split->contains(t));
  const size_t n = t.size();
  if (kOffsets) {
    s.word_pos.resize(n);
    for (size_t k = 0; k < n; ++k) s.word_pos[k] = pos0 + static_cast<int32_t>(k);
  }
  // lower-cased into wordbuf (8 bytes per step, with 8 bytes of slack past the end)
  if (s.wordbuf.size() < n + 8) s.wordbuf.resize(n + 8);
  char* w = s.wordbuf.data();
  const char* src = t.data();
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t x = basic_detail::load8(src + k);
    if (lower) x |= basic_detail::ascii_in_range(x, 'A', 'Z') >> 2;  // 0x80 >> 2: the case bit
    std::memcpy(w + k, &x, 8);
  }
  for (; k < n; ++k) w[k] = lower && src[k] >= 'A' && src[k] <= 'Z' ? static_cast<char>(src[k] + 32) : src[k];
  auto emit = [&](size_t b, size_t e) { sink(std::string_view(w + b, e - b), kOffsets ? s.word_pos.data() + b : nullptr); };
  size_t wstart = 0;
  for (size_t at = 0; at < n;) {
    // next punctuation byte at or after `at`
    size_t q = at;
    for (;;) {
      if (q + 8 <= n) {
        const uint64_t punct = ~basic_detail::ascii_alnum(basic_detail::load8(w + q)) & 0x8080808080808080ULL;
        if (!punct) {
          q += 8;
          continue;
        }
        q += static_cast<size_t>(__builtin_ctzll(punct)) >> 3;
        break;
      }
      while (q < n && basic_detail::kAsciiClass[static_cast<unsigned char>(w[q])] != basic_detail::kAsciiPunct) ++q;
      break;
    }
    if (q >= n) break;
    if (q > wstart) emit(wstart, q);
    emit(q, q + 1);
    wstart = at = q + 1;
  }
  if (n > wstart) emit(wstart, n);
}

}  // namespace tf::tok
