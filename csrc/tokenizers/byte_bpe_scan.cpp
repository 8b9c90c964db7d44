#include "tokenizers/byte_bpe_scan.h"

#include <cstring>

#include "common/cpu_features.h"
#include "tokenizers/unicode.h"

#ifdef TF_X86_64
#include <immintrin.h>
#endif

namespace tf::tok::gpt2_scan {

#ifdef TF_X86_64
namespace {

// The ASCII classes of GPT-2's pattern: \p{L} is [A-Za-z], \p{N} [0-9], \s [\t-\r ] (tests compare with regex);
// and the two-byte letters of Latin and Cyrillic text, whose lead byte alone tells: U+00C0-U+00FF but for
// U+00D7 and U+00F7 (lead C3, second byte 97, B7), U+0100-U+02BF (C4-CA), U+0400-U+047F (D0, D1), U+04C0-U+04FF (D3).
struct Classes {
  uint64_t l, n, s, sp, q, high;  // letters, digits, \s, ' ', apostrophes, bytes >= 0x80
  uint64_t c3, lead, not_c3_letter;  // lead bytes C3; C4-CA, D0, D1, D3; bytes 97, B7
};

inline bool ascii_space(unsigned char x) { return x == ' ' || static_cast<unsigned char>(x - '\t') < 5; }

// Whether p[i] starts one of those two-byte letters.
inline bool two_byte_letter_at(const unsigned char* p, size_t n, size_t i) {
  const unsigned char x = p[i];
  if (x == 0xC3) return i + 1 < n && p[i + 1] != 0x97 && p[i + 1] != 0xB7;
  return static_cast<unsigned char>(x - 0xC4) < 7 || x == 0xD0 || x == 0xD1 || x == 0xD3;
}

// The Unicode tables agree with the letters above (checked once: they come from this build's regex module).
bool two_byte_letters_hold() {
  static const bool holds = [] {
    for (unsigned lead = 0xC2; lead < 0xE0; ++lead)
      for (unsigned second = 0x80; second < 0xC0; ++second) {
        const unsigned char bytes[2] = {static_cast<unsigned char>(lead), static_cast<unsigned char>(second)};
        const char32_t c = ((lead & 0x1F) << 6) | (second & 0x3F);
        if (two_byte_letter_at(bytes, 2, 0) && !(flags(c) & kRxL)) return false;
      }
    return true;
  }();
  return holds;
}

inline uint64_t bit_at(size_t i) { return uint64_t{1} << (i % kBlock); }

// The pre-token starts of the block at b (classes of its bytes below n: valid), as in regex matching:
// a class change starts one, except a non-space after ' ' (` ?\p{L}+` and its kind take the space); a run of
// \s before a non-space leaves its last byte to the next (`\s+(?!\S)`); a contraction ends one.
__attribute__((always_inline)) inline void block_starts(const unsigned char* p, size_t n, size_t b, uint64_t valid,
                                                        const Classes& c, bool letters2, Carry& k,
                                                        uint64_t& starts, uint64_t& dirty) {
  const bool more = b + kBlock < n;
  const unsigned char x = more ? p[b + kBlock] : 0;  // the byte after the block
  // The two-byte letters' bytes are letters like ASCII ones (where the Unicode tables agree: letters2).
  const uint64_t lead2 = c.lead | (c.c3 & ~(c.not_c3_letter >> 1 | uint64_t{x == 0x97 || x == 0xB7} << 63));
  const uint64_t letter2 = (lead2 | lead2 << 1 | k.lead2) & valid;
  uint64_t next_nons = 0, next_high = 0;
  if (more) {
    const bool letter =
        x >= 0x80 && letters2 && ((x & 0xC0) == 0x80 ? lead2 >> 63 : two_byte_letter_at(p, n, b + kBlock));
    next_high = x >> 7 && !letter;
    next_nons = (x < 0x80 && !ascii_space(x)) || letter;
  }
  const uint64_t l = (c.l | letter2) & valid, d = c.n & valid, s = c.s & valid, sp = c.sp & valid;
  const uint64_t high = c.high & valid & ~letter2;
  const uint64_t o = valid & ~(l | d | s | high), nons = l | d | o;
  const uint64_t pl = l << 1 | k.l, pd = d << 1 | k.n, ps = s << 1 | k.s, po = o << 1 | k.o, psp = sp << 1 | k.sp;
  uint64_t st = (l & ~pl) | (d & ~pd) | (o & ~po) | (s & ~ps);
  st &= ~(psp & nons);
  st |= s & ps & (nons >> 1 | next_nons << 63);
  st = (st & ~k.clear) | k.set;
  k.clear = k.set = 0;
  // An apostrophe starts a pre-token unless it continues punctuation or follows a space; rare, so bit by bit.
  for (uint64_t q = c.q & valid & ~po & ~psp; q; q &= q - 1) {
    const size_t j = static_cast<size_t>(__builtin_ctzll(q));
    const size_t len = contraction_len(p, n, b + j);
    if (!len) continue;
    if (j + 1 < kBlock)  // its letters are one pre-token with it
      st &= ~bit_at(j + 1);
    else
      k.clear |= bit_at(j + 1);
    (j + len < kBlock ? st : k.set) |= bit_at(j + len);
  }
  starts = st & valid;
  // Bytes with a non-ASCII byte from 4 before (the apostrophe rule looks 1 before a contraction of up to 3)
  // to 1 after.
  const uint64_t h4 = high << 4 | k.high >> 60;  // bit i + 4: non-ASCII at i, from -4
  dirty = (high | high >> 1 | next_high << 63 | h4 | h4 >> 1 | h4 >> 2 | h4 >> 3) & valid;
  k.l = l >> 63;
  k.n = d >> 63;
  k.s = s >> 63;
  k.o = o >> 63;
  k.sp = sp >> 63;
  k.high = high;
  k.lead2 = lead2 >> 63;
}

inline uint64_t valid_below(size_t n, size_t b) {
  return n - b >= kBlock ? ~uint64_t{0} : (uint64_t{1} << (n - b)) - 1;
}

// The classes of the bytes of blocks (below n), on one ISA; letters2: with the two-byte letters' bytes.
using ClassifyBlocks = void (*)(const unsigned char* p, size_t n, size_t base, size_t blocks, bool letters2,
                                Classes* out);

__attribute__((target("avx512f,avx512bw"))) void classify_avx512(const unsigned char* p, size_t n, size_t base,
                                                                 size_t blocks, bool letters2, Classes* out) {
  const __m512i lo_a = _mm512_set1_epi8('a'), n_letters = _mm512_set1_epi8(26), case_bit = _mm512_set1_epi8(0x20);
  const __m512i lo_0 = _mm512_set1_epi8('0'), n_digits = _mm512_set1_epi8(10);
  const __m512i tab = _mm512_set1_epi8('\t'), n_ctl_spaces = _mm512_set1_epi8(5);
  const __m512i space = _mm512_set1_epi8(' '), apos = _mm512_set1_epi8('\'');
  const __m512i c3 = _mm512_set1_epi8(static_cast<char>(0xC3)), c4 = _mm512_set1_epi8(static_cast<char>(0xC4));
  const __m512i d0 = _mm512_set1_epi8(static_cast<char>(0xD0)), d3 = _mm512_set1_epi8(static_cast<char>(0xD3));
  const __m512i n_c4_ca = _mm512_set1_epi8(7), n_d0_d1 = _mm512_set1_epi8(2);
  const __m512i times = _mm512_set1_epi8(static_cast<char>(0x97)), divide = _mm512_set1_epi8(static_cast<char>(0xB7));
  for (size_t k = 0; k < blocks; ++k) {
    const size_t b = base + kBlock * k;
    const __m512i x = _mm512_maskz_loadu_epi8(valid_below(n, b), p + b);  // masked: no read past the end
    Classes& c = out[k];
    c.l = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_or_si512(x, case_bit), lo_a), n_letters);
    c.n = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, lo_0), n_digits);
    c.sp = _mm512_cmpeq_epi8_mask(x, space);
    c.s = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, tab), n_ctl_spaces) | c.sp;
    c.q = _mm512_cmpeq_epi8_mask(x, apos);
    c.high = _mm512_movepi8_mask(x);
    c.c3 = c.lead = c.not_c3_letter = 0;
    if (c.high && letters2) {
      c.c3 = _mm512_cmpeq_epi8_mask(x, c3);
      c.lead = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, c4), n_c4_ca) |
               _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, d0), n_d0_d1) | _mm512_cmpeq_epi8_mask(x, d3);
      c.not_c3_letter = _mm512_cmpeq_epi8_mask(x, times) | _mm512_cmpeq_epi8_mask(x, divide);
    }
  }
}

// Bytes of x in [lo, hi], signed: bytes >= 0x80 are negative, below every range here.
__attribute__((target("avx2"))) inline __m256i in_range(__m256i x, char lo, char hi) {
  return _mm256_and_si256(_mm256_cmpgt_epi8(x, _mm256_set1_epi8(static_cast<char>(lo - 1))),
                          _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(hi + 1)), x));
}
__attribute__((target("avx2"))) inline uint64_t bits(__m256i m, int shift) {
  return static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(m))) << shift;
}

// The classes of 32 bytes, into bits shift .. shift + 31 of c.
__attribute__((target("avx2"))) inline void classify_half_avx2(const unsigned char* p, int shift, bool letters2,
                                                               Classes& c) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i sp = _mm256_cmpeq_epi8(x, _mm256_set1_epi8(' '));
  c.l |= bits(in_range(_mm256_or_si256(x, _mm256_set1_epi8(0x20)), 'a', 'z'), shift);
  c.n |= bits(in_range(x, '0', '9'), shift);
  c.sp |= bits(sp, shift);
  c.s |= bits(_mm256_or_si256(in_range(x, '\t', '\r'), sp), shift);
  c.q |= bits(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('\'')), shift);
  const uint64_t high = bits(x, shift);
  c.high |= high;
  if (!high || !letters2) return;
  c.c3 |= bits(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(static_cast<char>(0xC3))), shift);
  c.lead |= bits(_mm256_or_si256(_mm256_or_si256(in_range(x, static_cast<char>(0xC4), static_cast<char>(0xCA)),
                                                 in_range(x, static_cast<char>(0xD0), static_cast<char>(0xD1))),
                                 _mm256_cmpeq_epi8(x, _mm256_set1_epi8(static_cast<char>(0xD3)))),
                 shift);
  c.not_c3_letter |= bits(_mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(static_cast<char>(0x97))),
                                          _mm256_cmpeq_epi8(x, _mm256_set1_epi8(static_cast<char>(0xB7)))),
                          shift);
}

__attribute__((target("avx2"))) void classify_avx2(const unsigned char* p, size_t n, size_t base, size_t blocks,
                                                   bool letters2, Classes* out) {
  for (size_t k = 0; k < blocks; ++k) {
    const size_t b = base + kBlock * k;
    const unsigned char* x = p + b;
    unsigned char tail[kBlock];
    if (n - b < kBlock) {  // the last block, through a copy: no read past the end
      std::memset(tail, 0, kBlock);
      std::memcpy(tail, x, n - b);
      x = tail;
    }
    out[k] = Classes{};
    classify_half_avx2(x, 0, letters2, out[k]);
    classify_half_avx2(x + 32, 32, letters2, out[k]);
  }
}

template <ClassifyBlocks classify>
size_t mask_blocks(const unsigned char* p, size_t n, size_t base, size_t blocks, Carry& carry, uint64_t* starts,
                   uint64_t* dirty) {
  const bool letters2 = two_byte_letters_hold();
  Classes classes[kChunk];
  classify(p, n, base, blocks, letters2, classes);
  Carry state = carry;  // a local: its fields stay in registers from block to block
  size_t all_dirty = 0;
  for (size_t k = 0; k < blocks; ++k) {
    const size_t b = base + kBlock * k;
    const uint64_t valid = valid_below(n, b);
    block_starts(p, n, b, valid, classes[k], letters2, state, starts[k], dirty[k]);
    all_dirty += dirty[k] == valid;
  }
  carry = state;
  return all_dirty;
}

}  // namespace

MaskBlocks mask_blocks_for_cpu() {
  switch (cpu_isa()) {
    case Isa::avx512: return mask_blocks<classify_avx512>;
    case Isa::avx2: return mask_blocks<classify_avx2>;
    default: return nullptr;
  }
}
#else
MaskBlocks mask_blocks_for_cpu() { return nullptr; }
#endif

}  // namespace tf::tok::gpt2_scan
