// The SIMD half of the GPT-2 pre-tokenizer (byte_bpe.cpp): which bytes start a pre-token, 64 at a time. Whether a
// byte starts one depends only on the classes of the bytes from 4 before it to 1 after it (a regex match at a
// pre-token start depends on the text after it only), so blocks are computed apart; the scanner emits the
// spans and takes the bytes near other non-ASCII characters (classes from the Unicode tables) through its scalar
// path.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tf::tok::gpt2_scan {

constexpr size_t kBlock = 64, kChunk = 32;  // bytes in a block, blocks in one call (2 KB: its masks stay in L1)

// Length of the contraction ('s 't 're 've 'm 'll 'd) at p[i], an apostrophe that starts a pre-token, or 0.
inline size_t contraction_len(const unsigned char* p, size_t n, size_t i) {
  if (i + 1 >= n) return 0;
  const unsigned char a = p[i + 1], b = i + 2 < n ? p[i + 2] : 0;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// What one block passes to the next.
struct Carry {
  uint64_t l = 0, n = 0, s = 0, o = 0, sp = 0;  // bit 0: the previous block's last byte is a letter, ..., ' '
  uint64_t high = 0;                            // the previous block's non-ASCII bytes (but two-byte letters)
  uint64_t lead2 = 0;                           // bit 0: its last byte starts a two-byte letter
  uint64_t set = 0, clear = 0;                  // starts that its last contractions add or remove here
};

// For the blocks at base + kBlock * k (k < blocks <= kChunk) of p[0, n), after the block before base (carry):
// starts[k], the bytes that start a pre-token, exact where the bytes from 4 before to 1 after are ASCII or
// two-byte Latin or Cyrillic letters (byte_bpe_scan.cpp);
// dirty[k], the others (bits from n on are clear in both); returns how many blocks are all dirty. Reads p only
// below n.
using MaskBlocks = size_t (*)(const unsigned char* p, size_t n, size_t base, size_t blocks, Carry& carry,
                            uint64_t* starts, uint64_t* dirty);
// The AVX-512 or AVX2 one for cpu_isa(); nullptr on other CPUs (the scalar scanner does everything there).
MaskBlocks mask_blocks_for_cpu();

}  // namespace tf::tok::gpt2_scan
