// BPE over characters with "</w>" on the last one (OpenAI GPT, XLM), after BERT's lower-casing
// BasicTokenizer (OpenAI GPT without ftfy/spaCy) or on words separated by spaces (XLM: Moses
// tokenisation happens before).
#pragma once
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizers/basic_tokenizer.h"
#include "tokenizers/bpe.h"
#include "tokenizers/pipeline.h"

namespace tf::tok {

class WordEndBpeModel : public Model {
 public:
  enum class Split { kBasicLower, kSpaces };
  WordEndBpeModel(const std::unordered_map<std::string, int64_t>& encoder,
                  const std::vector<std::pair<std::string, std::string>>& merges, Split split);

  void encode(std::string_view seg, int32_t pos_base, const SegmentContext& ctx, Encoding& out,
              bool offsets) const override;
  int32_t num_pieces() const override { return merges_.num_symbols(); }
  const std::string& piece(int32_t p) const override { return merges_.str(p); }
  int32_t find_piece(std::string_view s) const override { return merges_.find(s); }
  int64_t piece_vocab_id(int32_t p) const override { return piece_vocab_.at(p); }
  bool allows_surrogates() const override { return split_ == Split::kBasicLower; }

  // BPE of one word (code points; "</w>" joins the last), appended to out.
  void word(std::string_view w, const int32_t* pos, Encoding& out, bool offsets) const;

 private:
  Split split_;
  BasicTokenizer basic_;
  BpeMerges merges_;
  std::vector<int64_t> piece_vocab_;
  uint64_t serial_;
};

}  // namespace tf::tok
