// libFuzzer harness: GPT-2 pre-tokenizer + byte-level BPE under ASan/UBSan; the pre-tokens of valid text equal on
// every ISA path of the scanner (the scalar one, AVX2 and AVX-512 block masks).
#include <memory>

#include "common/cpu_features.h"

#include "fuzz_common.h"
#include "tokenizers/byte_bpe.h"

using namespace tf::tok;

static std::shared_ptr<ByteLevelBpeModel> model;
static std::shared_ptr<Pipeline> no_prefix, prefix_if_absent;  // transformers' add_prefix_space False / True
static std::vector<std::shared_ptr<Pipeline>> hf_split;  // transformers' split of added tokens, every flag

static std::shared_ptr<Pipeline> make() {
  const auto& b2u = byte_to_unicode();
  auto u = [&](const std::string& bytes) {
    std::string s;
    for (unsigned char c : bytes) append_utf8(b2u[c], s);
    return s;
  };
  std::unordered_map<std::string, int64_t> enc;
  for (int b = 0; b < 256; ++b) enc[u(std::string(1, static_cast<char>(b)))] = b;
  std::vector<std::pair<std::string, std::string>> merges;
  const std::string letters = "etaoinshr \xc3\xa9\xf0\x9f\x98";
  for (char a : letters)
    for (char b : letters) merges.push_back({u(std::string(1, a)), u(std::string(1, b))});
  for (char a : letters)
    for (char b : letters)
      for (char c : letters) merges.push_back({u(std::string(1, a) + b), u(std::string(1, c))});
  merges.push_back({u("e"), u("e")});  // a repeated pair keeps its last rank
  for (size_t i = 0; i < merges.size(); i += 3) enc[merges[i].first + merges[i].second] = 256 + static_cast<int64_t>(i);
  model = std::make_shared<ByteLevelBpeModel>(enc, merges);
  auto p = std::make_shared<Pipeline>(model);
  fuzz::configure(*p, {"<|endoftext|>", "<s>", "a"});
  no_prefix = std::make_shared<Pipeline>(std::make_shared<ByteLevelBpeModel>(enc, merges, PrefixSpace::never), false);
  prefix_if_absent =
      std::make_shared<Pipeline>(std::make_shared<ByteLevelBpeModel>(enc, merges, PrefixSpace::if_absent), false);
  fuzz::configure(*no_prefix, {"<|endoftext|>", "<s>", "a"});
  fuzz::configure(*prefix_if_absent, {"<s>", " "});
  for (int variant = 0; variant < 32; ++variant) {
    hf_split.push_back(std::make_shared<Pipeline>(
        std::make_shared<ByteLevelBpeModel>(enc, merges, variant & 1 ? PrefixSpace::if_absent : PrefixSpace::never),
        false));
    fuzz::configure_hf(*hf_split.back(), {"<s>", "<mask>", "a", "ab", " b", "\xc3\xa9"}, variant, 0);
  }
  return p;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto pipeline = make();
  fuzz::run(*pipeline, data, size);
  fuzz::run(*no_prefix, data, size);
  fuzz::run(*prefix_if_absent, data, size);
  if (size > 0) fuzz::run(*hf_split[data[0] % hf_split.size()], data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (find_invalid_utf8(text, false) == std::string_view::npos) {
    tf::set_isa_cap(tf::Isa::generic);
    const auto scalar = model->pretokenize(text);
    for (tf::Isa isa : {tf::Isa::avx2, tf::Isa::avx512}) {
      tf::set_isa_cap(isa);
      if (model->pretokenize(text) != scalar) __builtin_trap();
    }
  }
  return 0;
}
