// libFuzzer harness: XLM's Moses pre-tokenizer + lower-casing + "</w>" BPE. Classes and prefix lists are
// small stand-ins for sacremoses' data (the harness reads no Python package).
#include <memory>

#include "fuzz_common.h"
#include "tokenizers/moses.h"

using namespace tf::tok;

namespace {

std::u32string range(char32_t lo, char32_t hi) {
  std::u32string s;
  for (char32_t c = lo; c <= hi; ++c) s.push_back(c);
  return s;
}

struct Setup {
  std::vector<std::shared_ptr<MosesPreTokenizer>> moses;
  std::vector<std::shared_ptr<Pipeline>> pipelines;
};

Setup make() {
  MosesClassChars c;
  std::u32string upper = range(U'A', U'Z') + range(0xC0, 0xDE) + range(0x391, 0x3A9) + range(0x410, 0x42F);
  std::u32string lower = range(U'a', U'z') + range(0xDF, 0xFF) + range(0x3B1, 0x3C9) + range(0x430, 0x44F);
  std::u32string digits = range(U'0', U'9') + range(0x660, 0x669) + U"\u00b2\u2160";
  c.is_lower = lower;
  c.alpha_apostrophe = upper + lower + range(0x900, 0x97F) + U"\u094D";
  c.is_alpha = c.alpha_apostrophe + range(0xAC00, 0xAC20);
  c.is_alnum = c.is_alpha + digits;
  c.is_n = digits;
  std::vector<std::string> prefixes = {"Mr", "U.S", "No #NUMERIC_ONLY#", "No", "pp #NUMERIC_ONLY#", "e.g", "\xce\xa4"};
  std::vector<std::string> numeric = {"No", "pp"};
  std::unordered_map<std::string, int64_t> enc = {{"<unk>", 0}, {"a", 1}, {"b</w>", 2}, {"ab</w>", 3}, {"th", 4},
                                                  {"the</w>", 5}, {"e</w>", 6}, {".</w>", 7}, {",</w>", 8}};
  std::vector<std::pair<std::string, std::string>> merges = {
      {"a", "b</w>"}, {"t", "h"}, {"th", "e</w>"}, {"a", "a"}, {"aa", "a</w>"}, {"e", "e</w>"}};
  auto bpe = std::make_shared<WordEndBpeModel>(enc, merges, WordEndBpeModel::Split::kSpaces);
  Setup s;
  for (const char* lang : {"en", "fr", "de", "ro"}) {
    auto m = std::make_shared<MosesPreTokenizer>(lang, c, prefixes, numeric);
    s.moses.push_back(m);
    for (bool lower_case : {true, false}) {
      auto p = std::make_shared<Pipeline>(std::make_shared<MosesBpeModel>(m, bpe, lower_case));
      fuzz::configure(*p, {"<unk>", "<s>", "</s>", "ab"});
      s.pipelines.push_back(p);
    }
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Setup s = make();
  if (size == 0) return 0;
  const Pipeline& p = *s.pipelines[data[0] % s.pipelines.size()];
  const MosesPreTokenizer& m = *s.moses[(data[0] >> 3) % s.moses.size()];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool valid = find_invalid_utf8(text, true) == std::string_view::npos;
  try {
    std::vector<int64_t> ids, ids2;
    p.encode_ids(text, false, ids, nullptr);
    p.encode_ids(text, true, ids2, nullptr);
    if (ids.size() != ids2.size() || p.tokenize(text).size() != ids.size()) __builtin_trap();
    if (!valid) __builtin_trap();
  } catch (const std::invalid_argument&) {
    if (valid) __builtin_trap();
  }
  if (!valid) return 0;
  std::string norm, words;
  m.normalize(text, norm);
  if (find_invalid_utf8(norm, false) != std::string_view::npos) __builtin_trap();  // surrogates were dropped
  m.tokenize(norm, words);
  if (find_invalid_utf8(words, false) != std::string_view::npos) __builtin_trap();
  return 0;
}
