// Character classes and mappings from tables generated at build time (scripts/gen_unicode_tables.py)
// out of the same Python sources the reference tokenizers use (unicodedata, str.lower, regex).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tf::tok {

enum Flag : uint16_t {
  kBertDrop = 1 << 0,        // removed by BERT cleaning (NUL, U+FFFD, C* except \t\n\r)
  kBertWs = 1 << 1,          // becomes a space in BERT cleaning
  kPySpace = 1 << 2,         // str.isspace
  kBertPunct = 1 << 3,       // BERT punctuation (ASCII symbols or P*)
  kMn = 1 << 4,              // category Mn
  kRxL = 1 << 5,             // regex \p{L}
  kRxN = 1 << 6,             // regex \p{N}
  kRxS = 1 << 7,             // regex \s
  kCased = 1 << 8,           // Cased (final-sigma rule)
  kCaseIgnorable = 1 << 9,   // Case_Ignorable (final-sigma rule)
  kHasLower = 1 << 10,       // str.lower changes it
  kHasNfd = 1 << 11,         // NFD changes it
  kCjk = 1 << 12,            // BERT "Chinese character" ranges
  kCcc = 1 << 13,            // canonical combining class != 0
  kPyDecimal = 1 << 14,      // str.isdecimal (the re module's \d)
  kCatC = 1 << 15,           // category C*
};

uint16_t flags(char32_t c);
// Rust regex's \w (Alphabetic, marks, Nd, Pc, Join_Control), which tokenizers' single_word tests.
bool is_word_char(char32_t c);
const char* unicode_version();

// Appends the full lower-case mapping of c (str.lower of one character, context-free).
void append_lower(char32_t c, std::u32string& out);
// Lower-cases a whole token like str.lower, including the final-sigma rule.
void lower_str(const std::u32string& in, std::u32string& out, std::vector<int32_t>* pos_in,
               std::vector<int32_t>* pos_out);
// Canonical decomposition with canonical ordering (unicodedata.normalize("NFD", ...)).
void nfd_str(const std::u32string& in, std::u32string& out, std::vector<int32_t>* pos_in,
             std::vector<int32_t>* pos_out);
uint8_t combining_class(char32_t c);

// UTF-8. Input from Python str may carry lone surrogates (encoded with "surrogatepass" as
// 3-byte sequences); they decode to U+D800..U+DFFF. Everything else must be well-formed.
// Returns the byte offset of the first invalid sequence, or npos when the text is valid.
size_t find_invalid_utf8(std::string_view s, bool allow_surrogates);
void check_utf8(std::string_view s, bool allow_surrogates, const char* what);

// Decodes one code point from valid UTF-8 at p (advances p).
inline char32_t decode_utf8(const unsigned char*& p) {
  unsigned c = *p++;
  if (c < 0x80) return c;
  if (c < 0xE0) {
    char32_t r = ((c & 0x1F) << 6) | (p[0] & 0x3F);
    p += 1;
    return r;
  }
  if (c < 0xF0) {
    char32_t r = ((c & 0x0F) << 12) | ((p[0] & 0x3F) << 6) | (p[1] & 0x3F);
    p += 2;
    return r;
  }
  char32_t r = ((c & 0x07) << 18) | ((p[0] & 0x3F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  p += 3;
  return r;
}

inline void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

inline int utf8_len(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

std::u32string to_u32(std::string_view s);
std::string to_utf8(const std::u32string& s);

}  // namespace tf::tok
