#include "tokenizers/unicode.h"

#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "unicode_tables.h"  // generated into the build directory

namespace tf::tok {
namespace t = tables;

uint16_t flags(char32_t c) {
  if (c >= 0x110000) return 0;
  return t::kFlagBlocks[t::kFlagStage1[c >> 8]][c & 0xFF];
}

const char* unicode_version() { return t::kUnicodeVersion; }

bool is_word_char(char32_t c) {
  if (c < 0x80) return c == U'_' || (c >= U'0' && c <= U'9') || ((c | 0x20) >= U'a' && (c | 0x20) <= U'z');
  auto it = std::upper_bound(std::begin(t::kWordRanges), std::end(t::kWordRanges), static_cast<uint32_t>(c),
                             [](uint32_t v, const uint32_t (&r)[2]) { return v < r[0]; });
  return it != std::begin(t::kWordRanges) && c <= (*(it - 1))[1];
}

namespace {
template <size_t N>
const t::SeqEntry* find_seq(const t::SeqEntry (&table)[N], char32_t c) {
  auto it = std::lower_bound(std::begin(table), std::end(table), c,
                             [](const t::SeqEntry& e, char32_t v) { return e.cp < v; });
  return (it != std::end(table) && it->cp == c) ? it : nullptr;
}
}  // namespace

uint8_t combining_class(char32_t c) {
  if (!(flags(c) & kCcc)) return 0;
  auto it = std::lower_bound(std::begin(t::kCcc), std::end(t::kCcc), c,
                             [](const t::CccEntry& e, char32_t v) { return e.cp < v; });
  return (it != std::end(t::kCcc) && it->cp == c) ? it->ccc : 0;
}

void append_lower(char32_t c, std::u32string& out) {
  if (!(flags(c) & kHasLower)) {
    out.push_back(c);
    return;
  }
  const t::SeqEntry* e = find_seq(t::kLower, c);
  for (uint32_t i = 0; i < e->length; ++i) out.push_back(t::kLowerPool[e->offset + i]);
}

void lower_str(const std::u32string& in, std::u32string& out, std::vector<int32_t>* pos_in,
               std::vector<int32_t>* pos_out) {
  out.clear();
  if (pos_out) pos_out->clear();
  const size_t n = in.size();
  for (size_t i = 0; i < n; ++i) {
    char32_t c = in[i];
    size_t before = out.size();
    if (c == 0x3A3) {
      // CPython's handle_capital_sigma: \p{cased}\p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})
      ptrdiff_t j = static_cast<ptrdiff_t>(i) - 1;
      while (j >= 0 && (flags(in[j]) & kCaseIgnorable)) --j;
      bool final_sigma = j >= 0 && (flags(in[j]) & kCased);
      if (final_sigma && i + 1 < n) {
        size_t k = i + 1;
        while (k < n && (flags(in[k]) & kCaseIgnorable)) ++k;
        final_sigma = k == n || !(flags(in[k]) & kCased);
      }
      out.push_back(final_sigma ? 0x3C2 : 0x3C3);
    } else {
      append_lower(c, out);
    }
    if (pos_out)
      for (size_t k = before; k < out.size(); ++k) pos_out->push_back((*pos_in)[i]);
  }
}

void nfd_str(const std::u32string& in, std::u32string& out, std::vector<int32_t>* pos_in,
             std::vector<int32_t>* pos_out) {
  out.clear();
  if (pos_out) pos_out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char32_t c = in[i];
    size_t before = out.size();
    if (flags(c) & kHasNfd) {
      const t::SeqEntry* e = find_seq(t::kNfd, c);
      for (uint32_t k = 0; k < e->length; ++k) out.push_back(t::kNfdPool[e->offset + k]);
    } else {
      out.push_back(c);
    }
    if (pos_out)
      for (size_t k = before; k < out.size(); ++k) pos_out->push_back((*pos_in)[i]);
  }
  // Canonical ordering: stable sort of every run of non-starters by combining class.
  size_t i = 0;
  const size_t n = out.size();
  while (i < n) {
    if (combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && combining_class(out[j]) != 0) ++j;
    if (j - i > 1) {
      // insertion sort keeps it stable; positions stay in place (in order), as Hugging Face's alignments do,
      // so a token's span still runs from its first to its last character
      for (size_t a = i + 1; a < j; ++a) {
        char32_t c = out[a];
        uint8_t cc = combining_class(c);
        size_t b = a;
        while (b > i && combining_class(out[b - 1]) > cc) {
          out[b] = out[b - 1];
          --b;
        }
        out[b] = c;
      }
    }
    i = j;
  }
}

size_t find_invalid_utf8(std::string_view s, bool allow_surrogates) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (!(w & 0x8080808080808080ULL)) {
        i += 8;
        continue;
      }
    }
    unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    auto cont = [&](size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
    if (c >= 0xC2 && c <= 0xDF) {
      if (!cont(1)) return i;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (!cont(1) || !cont(2)) return i;
      unsigned c1 = p[i + 1];
      if (c == 0xE0 && c1 < 0xA0) return i;                       // overlong
      if (c == 0xED && c1 >= 0xA0 && !allow_surrogates) return i;  // surrogate
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3)) return i;
      unsigned c1 = p[i + 1];
      if (c == 0xF0 && c1 < 0x90) return i;  // overlong
      if (c == 0xF4 && c1 >= 0x90) return i;  // > U+10FFFF
      i += 4;
    } else {
      return i;
    }
  }
  return std::string_view::npos;
}

void check_utf8(std::string_view s, bool allow_surrogates, const char* what) {
  size_t bad = find_invalid_utf8(s, allow_surrogates);
  if (bad == std::string_view::npos) return;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  if (!allow_surrogates && p[bad] == 0xED && bad + 1 < s.size() && p[bad + 1] >= 0xA0)
    fail(what, " contains a lone surrogate (not encodable as UTF-8) at byte ", bad,
         "; the reference tokenizer raises UnicodeEncodeError on it too");
  fail(what, ": invalid UTF-8 at byte ", bad);
}

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* e = p + s.size();
  while (p < e) out.push_back(decode_utf8(p));
  return out;
}

std::string to_utf8(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(c, out);
  return out;
}

}  // namespace tf::tok
