// BERT: BasicTokenizer (cleaning, CJK split, lower-case + accent strip, punctuation split) and greedy
// longest-match-first WordPiece, as pytorch-transformers 1.2.0 tokenization_bert.py.
#pragma once
#include <string>
#include <vector>

#include "tokenizers/basic_tokenizer.h"
#include "tokenizers/pipeline.h"
#include "tokenizers/str_map.h"
#include "tokenizers/word_cache.h"

namespace tf::tok {

class WordPieceModel : public Model {
 public:
  // vocab: the vocabulary file's lines in order (ids are line numbers; a repeated line keeps the last id),
  // or with ids, the entries of a token -> id dict (a vocabulary edited in Python: ids may repeat or skip).
  WordPieceModel(const std::vector<std::string>& vocab, BertOptions opt, std::vector<int64_t> ids = {});
  ~WordPieceModel() override;

  void encode(std::string_view seg, int32_t pos_base, const SegmentContext& ctx, Encoding& out,
              bool offsets) const override;
  int32_t num_pieces() const override { return static_cast<int32_t>(tokens_.size()); }
  const std::string& piece(int32_t p) const override { return tokens_.at(p); }
  int32_t find_piece(std::string_view s) const override { return whole_.get(s); }
  int64_t piece_vocab_id(int32_t p) const override { return ids_.empty() ? p : ids_[p]; }
  bool allows_surrogates() const override { return true; }  // dropped as Cs, or [UNK]

  // The BasicTokenizer alone (BasicTokenizer.tokenize), for the Python class of that name.
  std::vector<std::string> basic_tokenize(std::string_view text, const NeverSplit& never_split) const;
  // WordpieceTokenizer.tokenize alone: whitespace split, then WordPiece (codes).
  void wordpiece_only(std::string_view text, int32_t pos_base, Encoding& out, bool offsets) const;

 private:
  template <bool kOffsets>
  void word(std::string_view w, const int32_t* pos, Encoding& out) const;
  struct Words;  // one thread's words awaiting WordPiece, and its word cache
  void flush_words(Words& ws, Encoding& out) const;

  BertOptions opt_;
  BasicTokenizer basic_;
  std::vector<std::string> tokens_;
  std::vector<int64_t> ids_;  // piece -> vocabulary id; empty: the piece index
  StrMap whole_;  // every vocabulary line (pieces at word start)
  StrMap cont_;   // lines starting with "##", without it (pieces inside a word)
  PerThread<Words> words_;
};

}  // namespace tf::tok
