// libFuzzer harness: "</w>" BPE (OpenAI GPT after BasicTokenizer; XLM on space-separated words).
#include <memory>

#include "fuzz_common.h"
#include "tokenizers/word_bpe.h"

using namespace tf::tok;

static std::vector<std::shared_ptr<Pipeline>> make() {
  std::unordered_map<std::string, int64_t> enc = {{"<unk>", 0}, {"a", 1}, {"b</w>", 2}, {"ab</w>", 3}, {"th", 4},
                                                  {"the</w>", 5}, {"é</w>", 6}};
  std::vector<std::pair<std::string, std::string>> merges = {
      {"a", "b</w>"}, {"t", "h"}, {"th", "e</w>"}, {"a", "a"}, {"aa", "a</w>"}, {"é", "é</w>"}, {"a", "b</w>"}};
  std::vector<std::shared_ptr<Pipeline>> out;
  for (auto split : {WordEndBpeModel::Split::kBasicLower, WordEndBpeModel::Split::kSpaces}) {
    auto p = std::make_shared<Pipeline>(std::make_shared<WordEndBpeModel>(enc, merges, split));
    fuzz::configure(*p, {"<unk>", "ab"});
    out.push_back(p);
  }
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto pipelines = make();
  if (size == 0) return 0;
  fuzz::run(*pipelines[data[0] & 1], data + 1, size - 1);
  return 0;
}
