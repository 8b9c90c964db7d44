#include "tokenizers/pipeline.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "common/check.h"
#include "common/parallel.h"
#include "tokenizers/unicode.h"

namespace tf::tok {

namespace {
void normalize_char(char32_t c, int normalize, std::u32string& out);
}  // namespace

Pipeline::Pipeline(std::shared_ptr<const Model> model, bool strip_parts)
    : model_(std::move(model)), strip_parts_(strip_parts) {
  configure({}, {}, {}, "", kNoId, kNoId, {}, {});
}

void Pipeline::configure(const std::vector<std::string>& split_tokens, const std::vector<int64_t>& split_id_single,
                         const std::vector<int64_t>& split_id_pair, const std::string& unk_token,
                         int64_t unk_id_single, int64_t unk_id_pair,
                         const std::unordered_map<std::string, int64_t>& added_tokens,
                         const std::vector<std::string>& never_split, bool hf_split,
                         const std::vector<uint8_t>& split_flags, int added_normalize) {
  TF_CHECK(split_tokens.size() == split_id_single.size() && split_tokens.size() == split_id_pair.size(),
           "split_tokens and their ids must have the same length");
  TF_CHECK(split_flags.empty() || split_flags.size() == split_tokens.size(),
           "split_flags must be empty or hold one entry per split token");
  auto c = std::make_shared<PipelineConfig>();
  c->hf_split = hf_split;
  c->split_flags = split_flags;
  c->split_flags.resize(split_tokens.size(), 0);
  c->added_normalize = added_normalize;
  for (uint8_t f : c->split_flags) c->has_split_group[(f & kNormalized) != 0] = true;
  c->split_tokens = split_tokens;
  c->split_id_single = split_id_single;
  c->split_id_pair = split_id_pair;
  for (size_t k = 0; k < split_tokens.size(); ++k) {
    TF_CHECK(!split_tokens[k].empty(), "special and added tokens must not be empty strings");
    check_utf8(split_tokens[k], true, "special token");
    c->split_index.emplace(split_tokens[k], static_cast<int32_t>(k));
  }
  for (const auto& tok : split_tokens) {
    std::u32string norm;
    for (char32_t ch : to_u32(tok)) normalize_char(ch, added_normalize, norm);
    c->split_normalized.push_back(to_utf8(norm));
  }
  c->occurs_as_is.build(c->split_tokens);
  c->occurs_normalized.build(c->split_normalized);
  c->unk_token = unk_token;
  c->unk_id_single = unk_id_single;
  c->unk_id_pair = unk_id_pair;
  const int32_t n = model_->num_pieces();
  c->piece_id_single.resize(n);
  c->piece_id_pair.resize(n);
  // A piece outside the vocabulary goes through the model's _convert_token_to_id in 1.2.0 (vocab.get(piece,
  // vocab.get(unk_token))) in both modes: an unk_token that is only an added token gives it no id (1.2.0: None,
  // here an error). unk_id_single (added tokens first) is only for the unk_token string itself (kUnkPiece).
  for (int32_t p = 0; p < n; ++p) {
    int64_t v = model_->piece_vocab_id(p);
    c->piece_id_pair[p] = v == kNoId ? unk_id_pair : v;
    c->piece_id_single[p] = v == kNoId ? unk_id_pair : v;
  }
  // convert_tokens_to_ids looks in added_tokens_encoder first
  c->added_tokens = added_tokens;
  for (const auto& [tok, id] : added_tokens) {
    int32_t p = model_->find_piece(tok);
    if (p >= 0) c->piece_id_single[p] = id;
  }
  for (const auto& t : never_split) c->never_split.add(t);
  std::lock_guard<std::mutex> lk(mu_);
  config_ = std::move(c);
}

void Occurrences::build(const std::vector<std::string>& strings) {
  for (size_t k = 0; k < strings.size(); ++k) {
    const auto* t = reinterpret_cast<const unsigned char*>(strings[k].data());
    if (strings[k].empty()) continue;
    first[t[0] >> 6] |= uint64_t{1} << (t[0] & 63);
    if (strings[k].size() == 1)
      singles.emplace_back(t[0], static_cast<int32_t>(k));
    else
      pairs.emplace_back(static_cast<uint16_t>(t[0] << 8 | t[1]), static_cast<int32_t>(k));
  }
  std::sort(pairs.begin(), pairs.end());
  few = pairs.size() + singles.size() <= kFew;
}

void Occurrences::find(const std::vector<std::string>& strings, std::string_view h, std::vector<char>& present) const {
  present.assign(strings.size(), few);
  if (few) return;
  const auto* p = reinterpret_cast<const unsigned char*>(h.data());
  for (size_t i = 0, n = h.size(); i < n; ++i) {
    if (!((first[p[i] >> 6] >> (p[i] & 63)) & 1)) continue;
    for (const auto& [b, k] : singles)
      if (b == p[i]) present[k] = 1;
    if (i + 1 == n) break;
    const uint16_t key = static_cast<uint16_t>(p[i] << 8 | p[i + 1]);
    auto it = std::lower_bound(pairs.begin(), pairs.end(), std::make_pair(key, INT32_MIN));
    for (; it != pairs.end() && it->first == key; ++it)
      if (!present[it->second] && h.compare(i, strings[it->second].size(), strings[it->second]) == 0)
        present[it->second] = 1;
  }
}

std::shared_ptr<const PipelineConfig> Pipeline::config() const {
  std::lock_guard<std::mutex> lk(mu_);
  return config_;
}

namespace {

struct Seg {
  size_t begin, end;  // bytes
  int32_t token;      // split token index, or -1 for text
  size_t content_begin = 0, content_end = 0;  // a token's own bytes (lstrip / rstrip take more)
  // text only: what is left of a character a normalized token took part of (transformers tokenizes that rest), before
  // begin (its character ends there) and after end (its character starts there)
  std::u32string head, tail;
  std::string shown;  // a normalized token's match in the normalized text (else the text's own bytes show it)
};

void normalize_char(char32_t c, int normalize, std::u32string& out) {
  if (c >= 0x20 && c < 0x7F) {  // (the common case, without the tables)
    out.push_back((normalize & kAddedLower) && c >= U'A' && c <= U'Z' ? c + 32 : c);
    return;
  }
  const uint16_t f = flags(c);
  if (normalize & kAddedCleanText) {  // NUL, U+FFFD and controls dropped, whitespace a space
    if (f & kBertDrop) return;
    if (f & kBertWs) c = U' ';
  }
  if ((normalize & kAddedChineseChars) && (f & kCjk)) {
    out += {U' ', c, U' '};
    return;
  }
  std::u32string one(1, c), tmp;
  if (normalize & kAddedStripAccents) {  // NFD, marks dropped
    nfd_str(one, tmp, nullptr, nullptr);
    one.clear();
    for (char32_t d : tmp)
      if (!(flags(d) & kMn)) one.push_back(d);
  }
  if (normalize & kAddedLower) {
    tmp.clear();
    for (char32_t d : one) append_lower(d, tmp);
    one.swap(tmp);
  }
  out += one;
}

// The end of the run of printable ASCII (0x20 to 0x7E) in p[i, e), 8 bytes at a time where it can.
size_t printable_ascii_end(const unsigned char* p, size_t i, size_t e) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  for (uint64_t x; i + 8 <= e; i += 8) {
    std::memcpy(&x, p + i, 8);
    if ((((x - kOnes * 0x20) & ~x) | ((x + kOnes) | x)) & kHigh) break;  // a byte < 0x20, or > 0x7E
  }
  while (i < e && p[i] >= 0x20 && p[i] < 0x7F) ++i;
  return i;
}

// Whether normalize_char may change c (most characters it leaves, as the flags tell without the mappings).
bool changes(char32_t c, int normalize) {
  const uint16_t f = flags(c);
  return ((normalize & kAddedCleanText) && (f & (kBertDrop | kBertWs))) ||
         ((normalize & kAddedChineseChars) && (f & kCjk)) ||
         ((normalize & kAddedStripAccents) && (f & (kHasNfd | kMn))) || ((normalize & kAddedLower) && (f & kHasLower));
}

// text[b, e) as transformers' normalizer leaves it (`normalize`: AddedNormalize bits), as UTF-8 for byte searches,
// and where its bytes come from: printable ASCII maps byte to byte, any other character is an anchor.
struct NormView {
  struct Anchor {
    size_t at, len;    // its normalized bytes (none where it is dropped)
    size_t from, to;   // its bytes in the text
  };
  std::string s;
  std::vector<Anchor> anchors;
  size_t base = 0;
  std::u32string scratch;

  void build(std::string_view text, size_t b, size_t e, int normalize) {
    s.clear(), anchors.clear(), base = b;
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t i = b; i < e;) {
      const size_t j = printable_ascii_end(p, i, e);
      if (j > i) {  // (the common case: a run of printable ASCII)
        const size_t at = s.size();
        s.append(text.substr(i, j - i));
        if (normalize & kAddedLower) {
          char* d = s.data() + at;  // (a plain pointer: the loop vectorizes)
          for (size_t k = 0, m = j - i; k < m; ++k)
            d[k] = static_cast<char>(d[k] + (static_cast<unsigned char>(d[k] - 'A') < 26 ? 32 : 0));
        }
        if ((i = j) == e) break;
      }
      const unsigned char* q = p + i;
      const char32_t c = decode_utf8(q);
      const size_t next = static_cast<size_t>(q - p), at = s.size();
      if (!changes(c, normalize)) {
        s.append(text.substr(i, next - i));
      } else {
        scratch.clear();
        normalize_char(c, normalize, scratch);
        for (char32_t d : scratch) append_utf8(d, s);
        // (one character for one of as many bytes maps byte to byte too: matches never split it)
        if (scratch.size() != 1 || s.size() - at != next - i) anchors.push_back({at, s.size() - at, i, next});
      }
      i = next;
    }
  }
  const Anchor* anchor_at(size_t i) const {  // the last anchor that starts at or before normalized byte i
    auto it = std::upper_bound(anchors.begin(), anchors.end(), i, [](size_t v, const Anchor& a) { return v < a.at; });
    return it == anchors.begin() ? nullptr : &*(it - 1);
  }
  static bool inside(const Anchor* a, size_t i) { return a && a->at < i && i < a->at + a->len; }
  // the bytes of the character that normalized byte i comes from
  size_t from(size_t i) const {
    const Anchor* a = anchor_at(i);
    if (!a) return base + i;
    return i < a->at + a->len ? a->from : a->to + (i - a->at - a->len);
  }
  size_t to(size_t i) const {
    const Anchor* a = anchor_at(i);
    return a && i < a->at + a->len ? a->to : from(i) + 1;
  }
  // the text of normalized bytes [x, y) (e: the text's end): whole characters as their bytes, what a token left of a
  // character as code points
  void emit_text(size_t x, size_t y, size_t e, std::vector<Seg>& out) const {
    if (x >= y) return;
    Seg seg{from(x), y < s.size() ? from(y) : e, -1};
    if (const Anchor* a = anchor_at(x); inside(a, x)) {
      const size_t stop = std::min(y, a->at + a->len);
      seg.head = to_u32(std::string_view(s).substr(x, stop - x));
      seg.begin = a->to;
      if (stop == y) {
        seg.end = seg.begin;
        out.push_back(std::move(seg));
        return;
      }
    }
    if (const Anchor* z = y < s.size() ? anchor_at(y) : nullptr; inside(z, y)) {
      seg.tail = to_u32(std::string_view(s).substr(z->at, y - z->at));
      seg.end = z->from;
    }
    out.push_back(std::move(seg));
  }
};

bool space_char(char32_t c) { return flags(c) & kRxS; }  // Rust regex's \s, which lstrip / rstrip take

// The character of (valid UTF-8) text that ends at byte i / starts at byte i, and its length in bytes.
char32_t char_before(std::string_view text, size_t i, size_t& len) {
  size_t j = i - 1;
  while (j > 0 && (static_cast<unsigned char>(text[j]) & 0xC0) == 0x80) --j;
  const unsigned char* q = reinterpret_cast<const unsigned char*>(text.data()) + j;
  len = i - j;
  return decode_utf8(q);
}

char32_t char_at(std::string_view text, size_t i, size_t& len) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(text.data()) + i;
  const unsigned char* q = p;
  const char32_t c = decode_utf8(q);
  len = static_cast<size_t>(q - p);
  return c;
}

struct Match {
  size_t start, stop;                 // with what lstrip / rstrip took
  size_t content_begin, content_end;  // the token's own bytes
  int32_t token;
};

// tokenizers' AddedVocabulary::find_matches on h[b, e) (valid UTF-8) with the split tokens whose kNormalized flag is
// `normalized`, patterns[k] the string token k matches: leftmost, then longest, matches from byte searches (UTF-8 is
// self-synchronizing: a pattern's bytes match only at character boundaries), only the characters beside a match
// decoded.
void find_matches(const PipelineConfig& cfg, std::string_view h, size_t b, size_t e, bool normalized,
                  const std::vector<std::string>& patterns, const Occurrences& occurs, std::vector<Match>& out) {
  const std::string_view part = h.substr(0, e);
  const size_t n_tokens = patterns.size();
  struct Hits {
    std::vector<size_t> at;
    std::vector<char> present;
  };
  Hits& scratch = thread_scratch<Hits>();
  std::vector<size_t>& hit = scratch.at;  // each token's next occurrence from the search position on (npos: none)
  hit.assign(n_tokens, std::string_view::npos);
  occurs.find(patterns, part.substr(b), scratch.present);
  for (size_t k = 0; k < n_tokens; ++k)
    if (scratch.present[k] && ((cfg.split_flags[k] & kNormalized) != 0) == normalized)
      hit[k] = part.find(patterns[k], b);
  size_t start_offset = b, pos = b, len = 0;
  while (pos < e) {
    int32_t m = -1;
    for (size_t k = 0; k < n_tokens; ++k) {  // leftmost, then longest (the first of equal ones)
      if (hit[k] != std::string_view::npos && hit[k] < pos) hit[k] = part.find(patterns[k], pos);
      if (hit[k] == std::string_view::npos) continue;
      if (m < 0 || hit[k] < hit[m] || (hit[k] == hit[m] && patterns[k].size() > patterns[m].size()))
        m = static_cast<int32_t>(k);
    }
    if (m < 0) break;
    const uint8_t f = cfg.split_flags[m];
    const size_t m_start = hit[m], m_end = m_start + patterns[m].size();
    size_t start = m_start, stop = m_end;
    pos = stop;  // (as the automaton, the search goes on after a match it drops)
    if ((f & kSingleWord) && ((start > b && is_word_char(char_before(h, start, len))) ||
                              (stop < e && is_word_char(char_at(h, stop, len)))))
      continue;
    if (f & kLstrip)
      while (start > start_offset && space_char(char_before(h, start, len))) start -= len;
    if (f & kRstrip)
      while (stop < e && space_char(char_at(h, stop, len))) stop += len;
    pos = stop;  // (no match inside the whitespace taken: parts never overlap)
    out.push_back({start, stop, m_start, m_end, m});
    start_offset = stop;
  }
}

// find_matches on text[b, e) as Segs, the normalized tokens matched in the normalized text where cfg.added_normalize
// says so (the caller's two passes: the tokens not normalized, then the normalized ones in the parts left).
void hf_find_matches(const PipelineConfig& cfg, std::string_view text, size_t b, size_t e, bool normalized,
                     std::vector<Seg>& out) {
  if (!cfg.has_split_group[normalized]) {  // no token to look for: the part stays text
    out.push_back({b, e, -1});
    return;
  }
  struct Found {
    std::vector<Match> at;
  };
  std::vector<Match>& found = thread_scratch<Found>().at;
  found.clear();
  if (!normalized || cfg.added_normalize == 0) {
    find_matches(cfg, text, b, e, normalized, cfg.split_tokens, cfg.occurs_as_is, found);
    size_t at = b;
    for (const Match& m : found) {
      if (at < m.start) out.push_back({at, m.start, -1});
      out.push_back({m.start, m.stop, m.token, m.content_begin, m.content_end});
      at = m.stop;
    }
    if (at < e) out.push_back({at, e, -1});
    return;
  }
  NormView& v = thread_scratch<NormView>();
  v.build(text, b, e, cfg.added_normalize);
  find_matches(cfg, v.s, 0, v.s.size(), true, cfg.split_normalized, cfg.occurs_normalized, found);
  size_t at = 0;
  for (const Match& m : found) {
    v.emit_text(at, m.start, e, out);
    out.push_back({v.from(m.start), v.to(m.stop - 1), m.token, v.from(m.content_begin), v.to(m.content_end - 1)});
    out.back().shown.assign(v.s, m.start, m.stop - m.start);
    at = m.stop;
  }
  v.emit_text(at, v.s.size(), e, out);
}

// A text part with the rest of a character a token took part of: the model tokenizes those code points with the bytes
// beside them (as transformers tokenizes its normalized rest); their tokens' offsets are the whole character's.
template <typename CpAt>
void encode_part(const Model& model, const Seg& s, std::string_view text, CpAt& cp_at, const SegmentContext& ctx,
                 Encoding& out, bool offsets) {
  std::string part = to_utf8(s.head);
  part.append(text.substr(s.begin, s.end - s.begin));
  part += to_utf8(s.tail);
  const size_t first = out.codes.size();
  model.encode(part, 0, ctx, out, offsets);
  if (!offsets) return;
  const int32_t kh = static_cast<int32_t>(s.head.size()), begin = cp_at(s.begin), tail_char = cp_at(s.end);
  const int32_t mid = tail_char - begin;
  for (size_t i = first; i < out.codes.size(); ++i) {
    const int32_t a = out.starts[i], b = out.ends[i];
    out.starts[i] = a < kh ? begin - 1 : a < kh + mid ? begin + (a - kh) : tail_char;
    out.ends[i] = b <= kh + mid ? begin + std::max(0, b - kh) : tail_char + 1;
  }
}

bool is_space_at(const unsigned char* p, size_t i, size_t n, size_t* len) {
  const unsigned char* q = p + i;
  char32_t c = decode_utf8(q);
  *len = static_cast<size_t>(q - (p + i));
  (void)n;
  return flags(c) & kPySpace;
}

// str.strip() on [b, e)
void strip(std::string_view t, size_t& b, size_t& e) {
  const auto* p = reinterpret_cast<const unsigned char*>(t.data());
  size_t len;
  while (b < e && is_space_at(p, b, e, &len)) b += len;
  while (e > b) {
    size_t s = e - 1;
    while (s > b && (p[s] & 0xC0) == 0x80) --s;
    if (!is_space_at(p, s, e, &len)) break;
    e = s;
  }
}

bool all_space(std::string_view t) {
  size_t b = 0, e = t.size();
  strip(t, b, e);
  return b == e;
}

}  // namespace

void Pipeline::encode_codes(std::string_view text, Encoding& out, bool offsets) const {
  encode_codes(*config(), text, out, offsets, false);
}

void Pipeline::encode_codes(const PipelineConfig& config, std::string_view text, Encoding& out, bool offsets,
                            bool valid_utf8) const {
  out.clear();
  out.codes.reserve(text.size() / 4 + 8);
  if (!valid_utf8) check_utf8(text, model_->allows_surrogates(), "text");
  const PipelineConfig* cfg = &config;
  SegmentContext ctx{&cfg->never_split};
  if (text.empty()) return;
  if (cfg->split_tokens.empty()) {  // 1.2.0 then calls _tokenize on the unstripped text
    model_->encode(text, 0, ctx, out, offsets);
    return;
  }
  // 1.2.0 turns whitespace-only text into one special token picked by set order; we return [].
  if (strip_parts_ && all_space(text)) return;

  size_t longest = 0;
  for (const auto& t : cfg->split_tokens) longest = std::max(longest, t.size());
  auto token_of = [&](size_t b, size_t e) -> int32_t {
    if (e - b > longest) return -1;
    auto it = cfg->split_index.find(std::string(text.substr(b, e - b)));
    return it == cfg->split_index.end() ? -1 : it->second;
  };
  std::vector<Seg> segs, next;
  if (cfg->hf_split) {
    segs.push_back({0, text.size(), -1});
    for (bool normalized : {false, true}) {
      next.clear();
      for (Seg& s : segs) {
        if (s.token >= 0)
          next.push_back(std::move(s));  // (segs is rebuilt from next)
        else
          hf_find_matches(*cfg, text, s.begin, s.end, normalized, next);
      }
      segs.swap(next);
    }
    next.clear();
    for (Seg& s : segs) {  // the text between the tokens: stripped in 1.2.0's mode, empty parts dropped
      const bool part = !s.head.empty() || !s.tail.empty();
      if (s.token < 0 && strip_parts_ && !part) strip(text, s.begin, s.end);
      if (s.token >= 0 || s.begin < s.end || part) next.push_back(std::move(s));
    }
    segs.swap(next);
  } else {
    segs.push_back({0, text.size(), token_of(0, text.size()), 0, text.size()});
  }
  std::vector<char> present;
  if (!cfg->hf_split) cfg->occurs_as_is.find(cfg->split_tokens, text, present);
  for (size_t k = 0; k < cfg->split_tokens.size() && !cfg->hf_split; ++k) {
    // a token nowhere in the text is in no part of it: after the first pass (which strips the text and finds a part
    // that is a token as a whole) its pass changes nothing
    if (k > 0 && !present[k]) continue;
    const std::string& tok = cfg->split_tokens[k];
    next.clear();
    for (Seg& s : segs) {
      if (s.token >= 0) {
        next.push_back(std::move(s));
        continue;
      }
      // text.split(tok), every part stripped; tok between parts
      size_t pos = s.begin;
      for (;;) {
        size_t hit = text.substr(0, s.end).find(tok, pos);
        size_t part_end = hit == std::string_view::npos ? s.end : hit;
        size_t b = pos, e = part_end;
        if (strip_parts_) strip(text, b, e);
        if (b < e) {
          const int32_t whole = token_of(b, e);
          next.push_back({b, e, whole, b, e});
        }
        if (hit == std::string_view::npos) break;
        next.push_back({hit, hit + tok.size(), cfg->split_index.at(tok), hit, hit + tok.size()});
        pos = hit + tok.size();
      }
    }
    segs.swap(next);
  }
  // Code point index of every segment start, counted incrementally.
  size_t cursor_byte = 0;
  int32_t cursor_cp = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  auto cp_at = [&](size_t byte) {
    while (cursor_byte < byte) {
      cursor_byte += utf8_len(p[cursor_byte]);
      ++cursor_cp;
    }
    while (cursor_byte > byte) {  // (a token after the rest of a character starts in that character)
      do --cursor_byte;
      while ((p[cursor_byte] & 0xC0) == 0x80);
      --cursor_cp;
    }
    return cursor_cp;
  };
  for (const Seg& s : segs) {
    if (s.token >= 0) {
      const bool content = cfg->split_flags[s.token] & kContentOffsets;
      int32_t start = offsets ? cp_at(content ? s.content_begin : s.begin) : 0;
      int32_t end = offsets ? cp_at(content ? s.content_end : s.end) : 0;
      out.push(-(s.token + 2), start, end, offsets);
      if (out.keep_shown)
        out.shown.push_back(s.shown.empty() ? std::string(text.substr(s.begin, s.end - s.begin)) : s.shown);
      continue;
    }
    if (!s.head.empty() || !s.tail.empty()) {
      encode_part(*model_, s, text, cp_at, ctx, out, offsets);
      continue;
    }
    int32_t base = offsets ? cp_at(s.begin) : 0;
    model_->encode(text.substr(s.begin, s.end - s.begin), base, ctx, out, offsets);
  }
}

int64_t Pipeline::code_to_id(const PipelineConfig& c, const Encoding& e, int32_t code, bool pair) const {
  int64_t id;
  if (is_extra_piece(code)) {  // not in the vocabulary: an added token, or the unknown token
    const std::string& tok = e.extra[kExtraPiece0 - code];
    auto it = pair ? c.added_tokens.end() : c.added_tokens.find(tok);
    id = it != c.added_tokens.end() ? it->second : c.unk_id_pair;  // the model's fallback, as for pieces above
    if (id == kNoId) fail("token '", tok, "' has no id: it is not in the vocabulary and unk_token '", c.unk_token, "' is not either");
    return id;
  }
  if (code >= 0) {
    id = pair ? c.piece_id_pair[code] : c.piece_id_single[code];
  } else if (code == kUnkPiece) {
    id = pair ? c.unk_id_pair : c.unk_id_single;
  } else {
    id = pair ? c.split_id_pair[-code - 2] : c.split_id_single[-code - 2];
  }
  if (id == kNoId) {
    std::string tok = code >= 0 ? model_->piece(code) : code == kUnkPiece ? c.unk_token : c.split_tokens[-code - 2];
    fail("token '", tok, "' has no id: it is not in the vocabulary and unk_token '", c.unk_token,
         "' is not either");
  }
  return id;
}

void Pipeline::encode_ids(std::string_view text, bool pair, std::vector<int64_t>& ids, Encoding* codes,
                          bool valid_utf8, bool offsets) const {
  struct Codes {
    Encoding enc;
  };
  Encoding& enc = codes ? *codes : thread_scratch<Codes>().enc;  // reused: no allocation per call
  auto cfg = config();
  encode_codes(*cfg, text, enc, codes != nullptr && offsets, valid_utf8);
  const int64_t* piece_ids = pair ? cfg->piece_id_pair.data() : cfg->piece_id_single.data();
  const size_t n = enc.codes.size();
  ids.resize(n);
  int64_t* o = ids.data();
  const int32_t* c = enc.codes.data();
  for (size_t i = 0; i < n; ++i) {
    int64_t id = c[i] >= 0 ? piece_ids[c[i]] : kNoId;
    o[i] = id != kNoId ? id : code_to_id(*cfg, enc, c[i], pair);
  }
}

std::vector<std::string> Pipeline::tokenize(std::string_view text) const {
  Encoding enc;
  auto cfg = config();
  encode_codes(*cfg, text, enc, false, false);
  std::vector<std::string> out;
  out.reserve(enc.codes.size());
  for (int32_t code : enc.codes) {
    if (is_extra_piece(code))
      out.push_back(enc.extra[kExtraPiece0 - code]);
    else if (code >= 0)
      out.push_back(model_->piece(code));
    else if (code == kUnkPiece)
      out.push_back(cfg->unk_token);
    else
      out.push_back(cfg->split_tokens[-code - 2]);
  }
  return out;
}

std::vector<std::vector<int64_t>> Pipeline::encode_batch(size_t n, const TextSource& text, bool pair,
                                                         std::vector<Encoding>* codes, bool offsets,
                                                         bool shown) const {
  std::vector<std::vector<int64_t>> out(n);
  if (codes) {
    Encoding empty;
    empty.keep_shown = shown;
    codes->assign(n, empty);
  }
  constexpr size_t kChunk = 8;  // texts taken at a time
  std::atomic<size_t> next{0};
  const int64_t workers = static_cast<int64_t>(std::min<size_t>(get_num_threads(), (n + kChunk - 1) / kChunk));
  parallel_for_outside_openmp(workers, 1, [&](int64_t, int64_t) {
    std::string buf;
    for (;;) {
      const size_t b = next.fetch_add(kChunk, std::memory_order_relaxed);
      if (b >= n) break;
      for (size_t i = b; i < std::min(n, b + kChunk); ++i) {
        bool valid = false;
        const std::string_view t = text(i, buf, valid);
        encode_ids(t, pair, out[i], codes ? &(*codes)[i] : nullptr, valid, offsets);
      }
    }
  });
  return out;
}

}  // namespace tf::tok
