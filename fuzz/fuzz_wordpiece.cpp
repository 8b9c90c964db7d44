// libFuzzer harness: BERT BasicTokenizer + WordPiece (all option combinations) under ASan/UBSan.
#include <memory>

#include "fuzz_common.h"
#include "tokenizers/wordpiece.h"

using namespace tf::tok;

static std::vector<std::shared_ptr<Pipeline>> make() {
  std::vector<std::string> vocab = {"[UNK]", "[CLS]", "[SEP]", "a", "b", "##a", "##b", "ab", "hello", "##llo",
                                    "he", "é", "##é", "中", "!", "##", "###", "ι", "σ", "##ς", "i̇", "x"};
  std::vector<std::shared_ptr<Pipeline>> out;
  for (int mask = 0; mask < 24; ++mask) {
    BertOptions o;
    o.do_basic_tokenize = mask & 1;
    o.do_lower_case = mask & 2;
    o.tokenize_chinese_chars = mask & 4;
    o.max_input_chars_per_word = 1 + (mask & 7) * 3;
    o.strip_accents = mask / 8 - 1;  // None, False, True
    auto p = std::make_shared<Pipeline>(std::make_shared<WordPieceModel>(vocab, o));
    fuzz::configure(*p, mask & 1 ? std::vector<std::string>{"[CLS]", "[SEP]", "ab", "a"} : std::vector<std::string>{});
    out.push_back(p);
  }
  // transformers' split, over tokens that normalize to several code points (İ), to the same text (B / b), that
  // overlap (a / ab / b a) or hold spaces, that take part of a character (i of İ, ᄒ of Hangul), that get
  // spaced (中)
  for (int variant = 0; variant < 32; ++variant) {
    BertOptions o;
    o.do_lower_case = variant & 1;
    o.strip_accents = variant & 2 ? 1 : -1;
    auto p = std::make_shared<Pipeline>(std::make_shared<WordPieceModel>(vocab, o));
    fuzz::configure_hf(*p,
                       {"[CLS]", "a", "ab", "B", "b a", "\xc4\xb0", "i", "\xc3\xa9", "x ", "\xe1\x84\x92",
                        "\xe4\xb8\xad", "##", "he"},  // (over Occurrences::kFew: the one-pass search)
                       variant, variant & 15);
    out.push_back(p);
  }
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto pipelines = make();
  if (size == 0) return 0;
  fuzz::run(*pipelines[data[0] % pipelines.size()], data + 1, size - 1);
  return 0;
}
