// Moses pre-tokenisation as pytorch-transformers 1.2.0's XLMTokenizer runs it through sacremoses:
// replace_unicode_punct, MosesPunctNormalizer(lang).normalize, remove_non_printing_char, (ro) Romanian
// diacritics, MosesTokenizer(lang).tokenize(escape=False), then (optionally) lower-case + NFD + drop Mn
// and BPE with "</w>". Every regex substitution of sacremoses is one hand-written pass over UTF-8 with
// re.sub's semantics (leftmost, non-overlapping, left to right), in sacremoses' order.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "tokenizers/pipeline.h"
#include "tokenizers/word_bpe.h"

namespace tf::tok {

// sacremoses' character classes (Perl Unicode properties shipped with sacremoses), per language.
// is_alnum/is_alpha are the tokenizer instance's (CJK-extended for ko/zh/ja); alpha_apostrophe is the class
// attribute IsAlpha that the apostrophe rules were compiled with.
struct MosesClassChars {
  std::u32string is_alnum, is_alpha, is_n, is_lower, alpha_apostrophe;
};

class MosesPreTokenizer {
 public:
  MosesPreTokenizer(std::string lang, const MosesClassChars& classes, const std::vector<std::string>& nonbreaking_prefixes,
                    const std::vector<std::string>& numeric_only_prefixes);

  // replace_unicode_punct + MosesPunctNormalizer.normalize + remove_non_printing_char (+ Romanian).
  void normalize(std::string_view text, std::string& out) const;
  // MosesTokenizer.tokenize(text, escape=False, return_str=True) (words separated by single spaces).
  void tokenize(std::string_view text, std::string& out) const;
  // Both, as XLMTokenizer._tokenize does before lower-casing and BPE.
  void pretokenize(std::string_view text, std::string& out) const;

  const std::string& lang() const { return lang_; }

 private:
  enum : uint8_t { kAlnum = 1, kAlpha = 2, kN = 4, kLower = 8, kAlphaApos = 16 };
  uint8_t cls(char32_t c) const {
    return c >= 0x110000 ? 0 : blocks_[stage1_[c >> 8]][c & 0xFF];
  }
  void nonbreaking(std::string& s, std::string& tmp) const;

  std::string lang_;
  enum class Quotes { kEn, kDeEsFr, kNone } quotes_;
  enum class Apostrophe { kEn, kFrIt, kOther } apostrophe_;
  char number_sep_;  // (\d)\xa0(\d) -> \1<sep>\2
  bool romanian_;
  std::vector<uint16_t> stage1_;
  std::vector<std::array<uint8_t, 256>> blocks_;
  std::unordered_set<std::string> nonbreaking_, numeric_only_;
  size_t longest_prefix_ = 0;
  bool ascii_keep_[128];  // ASCII characters PAD_NOT_ISALNUM leaves alone
};

// XLM: Moses (or the caller's pre-split words), lower-case + accent strip, BPE with "</w>".
class MosesBpeModel : public Model {
 public:
  MosesBpeModel(std::shared_ptr<const MosesPreTokenizer> moses, std::shared_ptr<const WordEndBpeModel> bpe,
                bool lowercase_and_remove_accent);

  void encode(std::string_view seg, int32_t pos_base, const SegmentContext& ctx, Encoding& out,
              bool offsets) const override;
  int32_t num_pieces() const override { return bpe_->num_pieces(); }
  const std::string& piece(int32_t p) const override { return bpe_->piece(p); }
  int32_t find_piece(std::string_view s) const override { return bpe_->find_piece(s); }
  int64_t piece_vocab_id(int32_t p) const override { return bpe_->piece_vocab_id(p); }
  // lone surrogates are category Cs: remove_non_printing_char drops them
  bool allows_surrogates() const override { return true; }

  // The words BPE sees (after lower-casing), for tests.
  std::vector<std::string> words(std::string_view text) const;

 private:
  template <class F>
  void for_each_word(std::string_view text, F&& f) const;

  std::shared_ptr<const MosesPreTokenizer> moses_;
  std::shared_ptr<const WordEndBpeModel> bpe_;
  bool lower_;
};

}  // namespace tf::tok
