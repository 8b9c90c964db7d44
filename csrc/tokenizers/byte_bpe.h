// GPT-2 / RoBERTa: byte-level BPE after GPT-2's pre-tokenisation pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// implemented as a scanner over the `regex` module's classes (generated tables).
#pragma once
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizers/bpe.h"
#include "tokenizers/pipeline.h"
#include "tokenizers/word_cache.h"

namespace tf::tok {

// GPT-2's bytes_to_unicode: the printable stand-in code point of every byte.
const std::vector<char32_t>& byte_to_unicode();

// The space put before each segment of text (a part between added/special tokens) before pre-tokenisation.
enum class PrefixSpace : int {
  always = 0,     // pytorch-transformers 1.2.0: ' ' + text, always
  never = 1,      // transformers' add_prefix_space=False
  if_absent = 2,  // transformers' add_prefix_space=True (tokenizers' ByteLevel): unless the text starts with ' '
};

class ByteLevelBpeModel : public Model {
 public:
  // encoder: encoder.json (byte-unicode strings -> ids); merges: the merge lines split in two.
  ByteLevelBpeModel(const std::unordered_map<std::string, int64_t>& encoder,
                    const std::vector<std::pair<std::string, std::string>>& merges,
                    PrefixSpace prefix_space = PrefixSpace::always);
  ~ByteLevelBpeModel() override;

  void encode(std::string_view seg, int32_t pos_base, const SegmentContext& ctx, Encoding& out,
              bool offsets) const override;
  int32_t num_pieces() const override { return merges_.num_symbols(); }
  const std::string& piece(int32_t p) const override { return piece_str_.at(p); }
  int32_t find_piece(std::string_view s) const override;
  int64_t piece_vocab_id(int32_t p) const override { return piece_vocab_.at(p); }

  // Pre-tokens of a text, for tests.
  std::vector<std::string> pretokenize(std::string_view text) const;

 private:
  bool to_bytes(std::string_view unicode_form, std::string& out) const;
  WordCache::Seed seed_;  // the symbols of up to WordCache::kMaxKey bytes and their encodings
  struct Scratch;         // buffers and the word cache of one thread
  PerThread<Scratch> scratch_;
  std::vector<int32_t> sym_len_;  // bytes of every symbol
  std::vector<uint8_t> whole_;    // BPE of the symbol's own bytes gives the symbol itself
  BpeMerges merges_;
  std::vector<std::string> piece_str_;
  std::vector<int64_t> piece_vocab_;
  std::unordered_map<char32_t, unsigned char> unicode_to_byte_;
  PrefixSpace prefix_space_;
};

}  // namespace tf::tok
