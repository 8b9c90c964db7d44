#include "tokenizers/moses.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <type_traits>

#include "common/check.h"
#include "tokenizers/unicode.h"

namespace tf::tok {
namespace {

using Str = std::string;

// Code point at byte i of valid UTF-8 (lone surrogates included); len gets its byte length.
inline char32_t cp_at(const Str& s, size_t i, size_t* len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const auto* q = p;
  char32_t c = decode_utf8(q);
  *len = static_cast<size_t>(q - p);
  return c;
}

// Start of the character that ends at byte i (i > 0).
inline size_t prev_start(const Str& s, size_t i) {
  --i;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

inline bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// Rewrites s character by character through `rewrite`, copying runs of ASCII as they are (the callers'
// rules map only non-ASCII characters): rewrite(c, len, i) appends to tmp what the character c of len bytes
// ending before byte i becomes, and may advance i past input it consumes with it.
template <class Rewrite>
void rewrite_non_ascii(Str& s, Str& tmp, Rewrite rewrite) {
  tmp.clear();
  for (size_t i = 0; i < s.size();) {
    size_t ascii_end = i;
    while (ascii_end < s.size() && static_cast<unsigned char>(s[ascii_end]) < 0x80) ++ascii_end;
    if (ascii_end > i) {
      tmp.append(s, i, ascii_end - i);
      i = ascii_end;
      continue;
    }
    size_t len;
    char32_t c = cp_at(s, i, &len);
    i += len;
    rewrite(c, len, i);
  }
  s.swap(tmp);
}

inline bool py_space(char32_t c) { return flags(c) & kPySpace; }
inline bool py_decimal(char32_t c) { return flags(c) & kPyDecimal; }

// str.replace(from, to)
void replace_lit(Str& s, std::string_view from, std::string_view to, Str& tmp) {
  size_t q = s.find(from);
  if (q == Str::npos) return;
  tmp.clear();
  size_t cursor = 0;
  while (q != Str::npos) {
    tmp.append(s, cursor, q - cursor);
    tmp.append(to);
    cursor = q + from.size();
    q = s.find(from, cursor);
  }
  tmp.append(s, cursor, Str::npos);
  s.swap(tmp);
}

struct Any {};  // no group on that side

// re.sub of "([A])LIT([B])" (either group optional): emit(out, a, b) writes the replacement.
template <class A, class B, class Emit>
void sub_around(Str& s, std::string_view lit, A a_ok, B b_ok, Emit emit, Str& tmp) {
  constexpr bool kHasA = !std::is_same_v<A, Any>;
  constexpr bool kHasB = !std::is_same_v<B, Any>;
  size_t q = s.find(lit);
  if (q == Str::npos) return;
  tmp.clear();
  size_t cursor = 0;
  bool changed = false;
  while (q != Str::npos) {
    size_t start = q, end = q + lit.size(), b_end = end;
    bool ok = true;
    if constexpr (kHasA) {
      if (q == 0) {
        ok = false;
      } else {
        start = prev_start(s, q);
        size_t len;
        ok = start >= cursor && a_ok(cp_at(s, start, &len));
      }
    }
    if constexpr (kHasB) {
      if (ok) {
        if (end >= s.size()) {
          ok = false;
        } else {
          size_t len;
          ok = b_ok(cp_at(s, end, &len));
          b_end = end + len;
        }
      }
    }
    if (!ok) {
      q = s.find(lit, q + 1);
      continue;
    }
    tmp.append(s, cursor, start - cursor);
    emit(tmp, std::string_view(s).substr(start, q - start), std::string_view(s).substr(end, b_end - end));
    cursor = b_end;
    changed = true;
    q = s.find(lit, cursor);
  }
  if (!changed) return;
  tmp.append(s, cursor, Str::npos);
  s.swap(tmp);
}

// " +" -> " "
void squeeze_spaces(Str& s, Str& tmp) {
  if (s.find("  ") == Str::npos) return;
  tmp.clear();
  for (size_t i = 0; i < s.size(); ++i)
    if (!(s[i] == ' ' && i > 0 && s[i - 1] == ' ')) tmp.push_back(s[i]);
  s.swap(tmp);
}

inline bool ascii_space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31); }

// re.sub(r"\s+", " ")
void collapse_whitespace(Str& s, Str& tmp) {
  tmp.clear();
  size_t run = 0;  // start of the pending run of non-whitespace bytes
  bool in_ws = false;
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    size_t len = 1;
    bool ws = b < 0x80 ? (b <= ' ' && ascii_space(b)) : py_space(cp_at(s, i, &len));
    if (ws) {
      tmp.append(s, run, i - run);
      if (!in_ws) tmp.push_back(' ');
      in_ws = true;
      run = i + len;
    } else {
      in_ws = false;
    }
    i += len;
  }
  tmp.append(s, run, Str::npos);
  s.swap(tmp);
}

// str.strip()
void py_strip(Str& s) {
  size_t b = 0, e = s.size();
  while (b < e) {
    size_t len;
    if (!py_space(cp_at(s, b, &len))) break;
    b += len;
  }
  while (e > b) {
    size_t st = prev_start(s, e), len;
    if (!py_space(cp_at(s, st, &len))) break;
    e = st;
  }
  if (b == 0 && e == s.size()) return;
  s = s.substr(b, e - b);
}

// Every character for which drop(c) holds is removed.
template <class Drop>
void remove_if(Str& s, Drop drop, Str& tmp) {
  tmp.clear();
  size_t keep_from = 0;  // start of the pending run of kept bytes
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    char32_t c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) c = cp_at(s, i, &len);
    if (drop(c)) {
      tmp.append(s, keep_from, i - keep_from);
      keep_from = i + len;
    }
    i += len;
  }
  if (keep_from == 0) return;
  tmp.append(s, keep_from, Str::npos);
  s.swap(tmp);
}

// 1.2.0's replace_unicode_punct in one pass: every replacement is ASCII and no later pattern of the list
// matches ASCII, except the \s* after 。 and ．, which only sees the input's own whitespace.
void replace_unicode_punct(Str& s, Str& tmp) {
  rewrite_non_ascii(s, tmp, [&](char32_t c, size_t len, size_t& i) {
    const char* r = nullptr;
    switch (c) {
      case U'，': case U'、': r = ","; break;
      case U'。': case U'．': {
        tmp += ". ";
        while (i < s.size()) {
          size_t l2;
          if (!py_space(cp_at(s, i, &l2))) break;
          i += l2;
        }
        return;
      }
      case U'”': case U'“': case U'《': case U'》': case U'１': case U'」': case U'「': r = "\""; break;
      case U'∶': case U'：': r = ":"; break;
      case U'？': r = "?"; break;
      case U'）': r = ")"; break;
      case U'！': r = "!"; break;
      case U'（': r = "("; break;
      case U'；': r = ";"; break;
      case U'０': r = "0"; break;
      case U'２': r = "2"; break;
      case U'３': r = "3"; break;
      case U'４': r = "4"; break;
      case U'５': r = "5"; break;
      case U'６': r = "6"; break;
      case U'７': r = "7"; break;
      case U'８': r = "8"; break;
      case U'９': r = "9"; break;
      case U'～': r = "~"; break;
      case U'’': r = "'"; break;
      case U'…': r = "..."; break;
      case U'━': r = "-"; break;
      case U'〈': r = "<"; break;
      case U'〉': r = ">"; break;
      case U'【': r = "["; break;
      case U'】': r = "]"; break;
      case U'％': r = "%"; break;
      default: break;
    }
    if (r)
      tmp += r;
    else
      tmp.append(s, i - len, len);
  });
}

// NORMALIZE_UNICODE's single-character maps, fused: „“”→", –→-, —→" - ", ´‘‚’→', …→... (the letter-context
// rules for ‘ and ’ give ' as the plain rules after them do; "''"→'"' runs after this, " +" later).
void normalize_unicode_chars(Str& s, Str& tmp) {
  rewrite_non_ascii(s, tmp, [&](char32_t c, size_t len, size_t& i) {
    switch (c) {
      case U'„': case U'“': case U'”': tmp += '"'; break;
      case U'–': tmp += '-'; break;
      case U'—': tmp += " - "; break;
      case U'´': case U'‘': case U'‚': case U'’': tmp += '\''; break;
      case U'…': tmp += "..."; break;
      default: tmp.append(s, i - len, len);
    }
  });
}

// en: re.sub(r'"([,.]+)', r'\1"')
void en_quote_comma(Str& s, Str& tmp) {
  size_t q = s.find('"');
  if (q == Str::npos) return;
  tmp.clear();
  size_t cursor = 0;
  bool changed = false;
  while (q != Str::npos) {
    size_t e = q + 1;
    while (e < s.size() && (s[e] == ',' || s[e] == '.')) ++e;
    if (e == q + 1) {
      q = s.find('"', q + 1);
      continue;
    }
    tmp.append(s, cursor, q - cursor);
    tmp.append(s, q + 1, e - q - 1);
    tmp.push_back('"');
    cursor = e;
    changed = true;
    q = s.find('"', cursor);
  }
  if (!changed) return;
  tmp.append(s, cursor, Str::npos);
  s.swap(tmp);
}

// de/es/fr: re.sub(r'(\.+)"(\s*[^<])', r'"\1\2')
void dots_quote(Str& s, Str& tmp) {
  size_t q = s.find(".\"");
  if (q == Str::npos) return;
  tmp.clear();
  size_t cursor = 0;
  bool changed = false;
  while (q != Str::npos) {
    // q is the last dot; the match starts at the first dot of the run not consumed already
    size_t d = q;
    while (d > cursor && s[d - 1] == '.') --d;
    size_t quote = q + 1, e = quote + 1, ws_end = e;
    while (ws_end < s.size()) {
      size_t len;
      if (!py_space(cp_at(s, ws_end, &len))) break;
      ws_end += len;
    }
    size_t end = Str::npos;
    if (ws_end < s.size() && s[ws_end] != '<') {
      size_t len;
      cp_at(s, ws_end, &len);
      end = ws_end + len;
    } else if (ws_end > e) {
      end = ws_end;  // the last whitespace character is [^<]
    }
    if (end == Str::npos) {
      q = s.find(".\"", q + 1);
      continue;
    }
    tmp.append(s, cursor, d - cursor);
    tmp.push_back('"');
    tmp.append(s, d, quote - d);
    tmp.append(s, e, end - e);
    cursor = end;
    changed = true;
    q = s.find(".\"", cursor);
  }
  if (!changed) return;
  tmp.append(s, cursor, Str::npos);
  s.swap(tmp);
}

// replace_multidots: a run of k >= 2 dots -> " " + "DOT" * k + "MULTI" (+ " " unless it ends the text)
void replace_multidots(Str& s, Str& tmp) {
  if (s.find("..") == Str::npos) return;
  tmp.clear();
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    if (s[i] == '.' && i + 1 < n && s[i + 1] == '.') {
      size_t e = i;
      while (e < n && s[e] == '.') ++e;
      tmp.push_back(' ');
      for (size_t k = i; k < e; ++k) tmp += "DOT";
      tmp += "MULTI";
      if (e < n) tmp.push_back(' ');
      i = e;
    } else {
      tmp.push_back(s[i++]);
    }
  }
  s.swap(tmp);
}

// restore_multidots: (?:DOT)+MULTI -> that many dots
void restore_multidots(Str& s, Str& tmp) {
  size_t q = s.find("DOT");
  if (q == Str::npos) return;
  tmp.clear();
  size_t cursor = 0;
  bool changed = false;
  while (q != Str::npos) {
    size_t e = q, k = 0;
    while (s.compare(e, 3, "DOT") == 0) {
      e += 3;
      ++k;
    }
    if (s.compare(e, 5, "MULTI") != 0) {
      q = s.find("DOT", q + 1);
      continue;
    }
    tmp.append(s, cursor, q - cursor);
    tmp.append(k, '.');
    cursor = e + 5;
    changed = true;
    q = s.find("DOT", cursor);
  }
  if (!changed) return;
  tmp.append(s, cursor, Str::npos);
  s.swap(tmp);
}

// str.split() into views
void split_ws(std::string_view s, std::vector<std::string_view>& out) {
  out.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size(), start = Str::npos;
  while (i < n) {
    size_t len = 1;
    bool ws;
    if (p[i] < 0x80) {
      ws = ascii_space(p[i]);
    } else {
      const unsigned char* q = p + i;
      ws = py_space(decode_utf8(q));
      len = static_cast<size_t>(q - (p + i));
    }
    if (ws) {
      if (start != Str::npos) out.push_back(s.substr(start, i - start));
      start = Str::npos;
    } else if (start == Str::npos) {
      start = i;
    }
    i += len;
  }
  if (start != Str::npos) out.push_back(s.substr(start));
}

struct Scratch {
  Str a, b, c;
  std::vector<std::string_view> tokens;
  std::u32string u, v;
};

Scratch& scratch() { return thread_scratch<Scratch>(); }

}  // namespace

MosesPreTokenizer::MosesPreTokenizer(std::string lang, const MosesClassChars& classes,
                                     const std::vector<std::string>& nonbreaking_prefixes,
                                     const std::vector<std::string>& numeric_only_prefixes)
    : lang_(std::move(lang)) {
  if (lang_ == "en")
    quotes_ = Quotes::kEn;
  else if (lang_ == "de" || lang_ == "es" || lang_ == "fr")
    quotes_ = Quotes::kDeEsFr;
  else
    quotes_ = Quotes::kNone;
  if (lang_ == "en")
    apostrophe_ = Apostrophe::kEn;
  else if (lang_ == "fr" || lang_ == "it")
    apostrophe_ = Apostrophe::kFrIt;
  else
    apostrophe_ = Apostrophe::kOther;
  number_sep_ = (lang_ == "de" || lang_ == "es" || lang_ == "cz" || lang_ == "cs" || lang_ == "fr") ? ',' : '.';
  romanian_ = lang_ == "ro";

  std::vector<uint8_t> table(0x110000, 0);
  auto mark = [&](const std::u32string& chars, uint8_t bit) {
    for (char32_t c : chars) {
      TF_CHECK(c < 0x110000, "character class holds an invalid code point");
      table[c] |= bit;
    }
  };
  mark(classes.is_alnum, kAlnum);
  mark(classes.is_alpha, kAlpha);
  mark(classes.is_n, kN);
  mark(classes.is_lower, kLower);
  mark(classes.alpha_apostrophe, kAlphaApos);
  for (char32_t c = 0; c < 0x80; ++c)
    ascii_keep_[c] = (table[c] & kAlnum) || ascii_space(static_cast<unsigned char>(c)) || c == '.' || c == '\'' ||
                     c == '`' || c == ',' || c == '-';
  for (const auto& p : nonbreaking_prefixes) longest_prefix_ = std::max(longest_prefix_, p.size());
  for (const auto& p : numeric_only_prefixes) longest_prefix_ = std::max(longest_prefix_, p.size());
  std::map<std::array<uint8_t, 256>, uint16_t> seen;
  stage1_.resize(0x110000 >> 8);
  for (size_t blk = 0; blk < stage1_.size(); ++blk) {
    std::array<uint8_t, 256> b;
    std::memcpy(b.data(), table.data() + (blk << 8), 256);
    auto it = seen.find(b);
    if (it == seen.end()) {
      it = seen.emplace(b, static_cast<uint16_t>(blocks_.size())).first;
      blocks_.push_back(b);
    }
    stage1_[blk] = it->second;
  }
  for (const auto& p : nonbreaking_prefixes) {
    check_utf8(p, false, "nonbreaking prefix");
    nonbreaking_.insert(p);
  }
  for (const auto& p : numeric_only_prefixes) {
    check_utf8(p, false, "numeric-only prefix");
    numeric_only_.insert(p);
  }
}

void MosesPreTokenizer::normalize(std::string_view text, std::string& out) const {
  Scratch& sc = scratch();
  Str& s = out;
  Str& tmp = sc.c;
  s.assign(text);
  const bool ascii = is_ascii(s);
  if (!ascii) replace_unicode_punct(s, tmp);
  // MosesPunctNormalizer(lang).normalize: EXTRA_WHITESPACE
  replace_lit(s, "\r", "", tmp);
  replace_lit(s, "(", " (", tmp);
  replace_lit(s, ")", ") ", tmp);
  squeeze_spaces(s, tmp);
  sub_around(
      s, ") ", Any{}, [](char32_t c) { return c < 0x80 && std::strchr(".!:?;,", static_cast<char>(c)) && c; },
      [](Str& o, std::string_view, std::string_view b) {
        o.push_back(')');
        o.append(b);
      },
      tmp);
  replace_lit(s, "( ", "(", tmp);
  replace_lit(s, " )", ")", tmp);
  sub_around(
      s, " %", py_decimal, Any{},
      [](Str& o, std::string_view a, std::string_view) {
        o.append(a);
        o.push_back('%');
      },
      tmp);
  replace_lit(s, " :", ":", tmp);
  replace_lit(s, " ;", ";", tmp);
  // NORMALIZE_UNICODE_IF_NOT_PENN (sacremoses adds it when penn=True)
  replace_lit(s, "`", "'", tmp);
  replace_lit(s, "''", " \" ", tmp);
  // NORMALIZE_UNICODE (its " +" is left to the one after HANDLE_PSEUDO_SPACES: nothing in between
  // looks at spaces)
  if (!ascii) normalize_unicode_chars(s, tmp);
  replace_lit(s, "''", "\"", tmp);
  if (!ascii) {
    // FRENCH_QUOTES
    if (s.find("\xC2\xAB") != Str::npos || s.find("\xC2\xBB") != Str::npos) {
      replace_lit(s, "\xC2\xA0\xC2\xAB\xC2\xA0", "\"", tmp);
      replace_lit(s, "\xC2\xAB\xC2\xA0", "\"", tmp);
      replace_lit(s, "\xC2\xAB", "\"", tmp);
      replace_lit(s, "\xC2\xA0\xC2\xBB\xC2\xA0", "\"", tmp);
      replace_lit(s, "\xC2\xA0\xC2\xBB", "\"", tmp);
      replace_lit(s, "\xC2\xBB", "\"", tmp);
    }
    // HANDLE_PSEUDO_SPACES (every pattern holds a no-break space)
    if (s.find("\xC2\xA0") != Str::npos) {
      replace_lit(s, "\xC2\xA0%", "%", tmp);
      replace_lit(s, "n\xC2\xBA\xC2\xA0", "n\xC2\xBA ", tmp);
      replace_lit(s, "\xC2\xA0:", ":", tmp);
      replace_lit(s, "\xC2\xA0\xC2\xBA" "C", " \xC2\xBA" "C", tmp);
      replace_lit(s, "\xC2\xA0" "cm", " cm", tmp);
      replace_lit(s, "\xC2\xA0?", "?", tmp);
      replace_lit(s, "\xC2\xA0!", "!", tmp);
      replace_lit(s, "\xC2\xA0;", ";", tmp);
      replace_lit(s, ",\xC2\xA0", ", ", tmp);
    }
  }
  squeeze_spaces(s, tmp);
  if (quotes_ == Quotes::kEn) {
    en_quote_comma(s, tmp);
  } else if (quotes_ == Quotes::kDeEsFr) {
    replace_lit(s, ",\"", "\",", tmp);
    dots_quote(s, tmp);
  }
  if (!ascii) {
    const char sep = number_sep_;
    sub_around(
        s, "\xC2\xA0", py_decimal, py_decimal,
        [sep](Str& o, std::string_view a, std::string_view b) {
          o.append(a);
          o.push_back(sep);
          o.append(b);
        },
        tmp);
  }
  py_strip(s);
  // remove_non_printing_char
  bool any_c = false;
  for (unsigned char b : s)
    if (b < 0x20 || b == 0x7F || b >= 0x80) {
      any_c = true;
      break;
    }
  if (any_c) remove_if(s, [](char32_t c) { return (flags(c) & kCatC) != 0; }, tmp);
  if (romanian_ && !ascii) {
    tmp.clear();
    for (size_t i = 0; i < s.size();) {
      size_t len;
      char32_t c = cp_at(s, i, &len);
      char r = 0;
      switch (c) {
        case 0x15E: case 0x218: r = 'S'; break;
        case 0x15F: case 0x219: r = 's'; break;
        case 0x162: case 0x21A: r = 'T'; break;
        case 0x163: case 0x21B: r = 't'; break;
        case 0x102: case 0xC2: r = 'A'; break;
        case 0x103: case 0xE2: r = 'a'; break;
        case 0xCE: r = 'I'; break;
        case 0xEE: r = 'i'; break;
        default: break;
      }
      if (r)
        tmp.push_back(r);
      else
        tmp.append(s, i, len);
      i += len;
    }
    s.swap(tmp);
  }
}

void MosesPreTokenizer::nonbreaking(std::string& s, std::string& tmp) const {
  auto& tokens = scratch().tokens;
  split_ws(s, tokens);
  tmp.clear();
  const size_t n = tokens.size();
  for (size_t i = 0; i < n; ++i) {
    std::string_view tok = tokens[i];
    if (i) tmp.push_back(' ');
    if (tok.size() < 2 || tok.back() != '.') {
      tmp.append(tok);
      continue;
    }
    std::string_view prefix = tok.substr(0, tok.size() - 1);
    std::string key(prefix.size() <= longest_prefix_ ? prefix : std::string_view());
    bool keep = false;
    if (prefix.find('.') != std::string_view::npos) {
      const auto* p = reinterpret_cast<const unsigned char*>(prefix.data());
      const auto* e = p + prefix.size();
      while (p < e && !keep) keep = cls(decode_utf8(p)) & kAlpha;
    }
    const bool listed = !key.empty();  // longer prefixes are in neither list
    const bool numeric = listed && numeric_only_.count(key) != 0;
    if (!keep && listed) keep = nonbreaking_.count(key) && !numeric;
    if (!keep && i + 1 < n) {
      const auto* p = reinterpret_cast<const unsigned char*>(tokens[i + 1].data());
      keep = cls(decode_utf8(p)) & kLower;
    }
    if (!keep && numeric && i + 1 < n) keep = tokens[i + 1][0] >= '0' && tokens[i + 1][0] <= '9';
    tmp.append(prefix);
    tmp.append(keep ? "." : " .");
  }
  s.swap(tmp);
}

void MosesPreTokenizer::tokenize(std::string_view text, std::string& out) const {
  Scratch& sc = scratch();
  Str& s = out;
  Str& tmp = sc.c;
  if (s.data() != text.data() || s.size() != text.size()) s.assign(text);
  collapse_whitespace(s, tmp);
  // ASCII_JUNK [\000-\037]
  bool junk = false;
  for (unsigned char b : s) junk |= b < 0x20;
  if (junk) remove_if(s, [](char32_t c) { return c < 0x20; }, tmp);
  py_strip(s);
  // PAD_NOT_ISALNUM: ([^IsAlnum\s\.'\`\,\-]) -> " \1 "
  tmp.clear();
  size_t run = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    size_t len = 1;
    bool keep;
    if (b < 0x80) {
      keep = ascii_keep_[b];
    } else {
      char32_t c = cp_at(s, i, &len);
      keep = (cls(c) & kAlnum) || py_space(c);
    }
    if (!keep) {
      tmp.append(s, run, i - run);
      tmp.push_back(' ');
      tmp.append(s, i, len);
      tmp.push_back(' ');
      run = i + len;
    }
    i += len;
  }
  tmp.append(s, run, Str::npos);
  s.swap(tmp);
  replace_multidots(s, tmp);
  // COMMA_SEPARATE_1..3
  auto not_n = [this](char32_t c) { return !(cls(c) & kN); };
  sub_around(
      s, ",", not_n, Any{},
      [](Str& o, std::string_view a, std::string_view) {
        o.append(a);
        o += " , ";
      },
      tmp);
  sub_around(
      s, ",", Any{}, not_n,
      [](Str& o, std::string_view, std::string_view b) {
        o += " , ";
        o.append(b);
      },
      tmp);
  if (s.size() >= 2 && s.back() == ',') {
    size_t st = prev_start(s, s.size() - 1), len;
    if (cls(cp_at(s, st, &len)) & kN) {
      s.pop_back();
      s += " , ";
    }
  }
  // apostrophes, per language
  if (s.find('\'') != Str::npos) {
    auto alpha = [this](char32_t c) { return (cls(c) & kAlphaApos) != 0; };
    auto not_alpha = [this](char32_t c) { return !(cls(c) & kAlphaApos); };
    auto spaced = [](Str& o, std::string_view a, std::string_view b) {
      o.append(a);
      o += " ' ";
      o.append(b);
    };
    if (apostrophe_ == Apostrophe::kEn) {
      sub_around(s, "'", not_alpha, not_alpha, spaced, tmp);
      sub_around(s, "'", [this](char32_t c) { return !(cls(c) & (kAlphaApos | kN)); }, alpha, spaced, tmp);
      sub_around(s, "'", alpha, not_alpha, spaced, tmp);
      auto attach = [](Str& o, std::string_view a, std::string_view b) {
        o.append(a);
        o += " '";
        o.append(b);
      };
      sub_around(s, "'", alpha, alpha, attach, tmp);
      sub_around(s, "'", [this](char32_t c) { return (cls(c) & kN) != 0; }, [](char32_t c) { return c == 's'; },
                 attach, tmp);
    } else if (apostrophe_ == Apostrophe::kFrIt) {
      sub_around(s, "'", not_alpha, not_alpha, spaced, tmp);
      sub_around(s, "'", not_alpha, alpha, spaced, tmp);
      sub_around(s, "'", alpha, not_alpha, spaced, tmp);
      sub_around(
          s, "'", alpha, alpha,
          [](Str& o, std::string_view a, std::string_view b) {
            o.append(a);
            o += "' ";
            o.append(b);
          },
          tmp);
    } else {
      replace_lit(s, "'", " ' ", tmp);
    }
  }
  if (s.find('.') != Str::npos) {
    nonbreaking(s, tmp);
  }
  collapse_whitespace(s, tmp);
  py_strip(s);
  // TRAILING_DOT_APOSTROPHE: \.' ?$ -> " . ' "
  if (s.size() >= 2 && s.compare(s.size() - 2, 2, ".'") == 0) {
    s.resize(s.size() - 2);
    s += " . ' ";
  } else if (s.size() >= 3 && s.compare(s.size() - 3, 3, ".' ") == 0) {
    s.resize(s.size() - 3);
    s += " . ' ";
  }
  restore_multidots(s, tmp);
}

void MosesPreTokenizer::pretokenize(std::string_view text, std::string& out) const {
  normalize(text, out);
  tokenize(out, out);
}

MosesBpeModel::MosesBpeModel(std::shared_ptr<const MosesPreTokenizer> moses, std::shared_ptr<const WordEndBpeModel> bpe,
                             bool lowercase_and_remove_accent)
    : moses_(std::move(moses)), bpe_(std::move(bpe)), lower_(lowercase_and_remove_accent) {
  TF_CHECK(moses_ && bpe_, "MosesBpeModel needs a Moses pre-tokenizer and a BPE model");
}

template <class F>
void MosesBpeModel::for_each_word(std::string_view text, F&& f) const {
  struct WordScratch {
    Str pre, low;
    std::u32string u, v;
    std::vector<std::string_view> words;
  };
  WordScratch& s = thread_scratch<WordScratch>();
  Str &pre = s.pre, &low = s.low;
  std::u32string &u = s.u, &v = s.v;
  std::vector<std::string_view>& words = s.words;
  moses_->pretokenize(text, pre);
  split_ws(pre, words);
  for (std::string_view w : words) {
    if (!lower_) {
      f(w);
      continue;
    }
    // lowercase_and_remove_accent: lower, NFD, drop Mn, lower (per word: spaces end the final-sigma context)
    if (is_ascii(w)) {
      low.assign(w);
      for (char& ch : low)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
    } else {
      u = to_u32(w);
      lower_str(u, v, nullptr, nullptr);
      nfd_str(v, u, nullptr, nullptr);
      v.clear();
      for (char32_t c : u)
        if (!(flags(c) & kMn)) v.push_back(c);
      lower_str(v, u, nullptr, nullptr);
      low = to_utf8(u);
    }
    if (!low.empty()) f(std::string_view(low));
  }
}

void MosesBpeModel::encode(std::string_view seg, int32_t, const SegmentContext&, Encoding& out, bool offsets) const {
  TF_CHECK(!offsets, "offsets are not available for XLM: the Moses pre-tokenizer rewrites the text");
  for_each_word(seg, [&](std::string_view w) { bpe_->word(w, nullptr, out, false); });
}

std::vector<std::string> MosesBpeModel::words(std::string_view text) const {
  std::vector<std::string> out;
  for_each_word(text, [&](std::string_view w) { out.emplace_back(w); });
  return out;
}

}  // namespace tf::tok
