// Shared by the libFuzzer harnesses: run a pipeline on fuzz bytes in every mode. Invalid UTF-8 must
// be rejected with std::invalid_argument (a ValueError in Python); anything else is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/pipeline.h"
#include "tokenizers/unicode.h"

namespace fuzz {
using namespace tf::tok;

inline void configure(Pipeline& p, const std::vector<std::string>& split) {
  std::vector<int64_t> ids;
  for (size_t i = 0; i < split.size(); ++i) ids.push_back(static_cast<int64_t>(i));
  p.configure(split, ids, ids, "[UNK]", 0, 0, {{"added", 1}}, split);
}

// transformers' split (AddedVocabulary): `variant` picks each token's lstrip / rstrip / single_word / normalized /
// content-offset flags, so that every combination meets every token over the variants; normalized tokens match
// the text lower-cased (bit 1) and without accents (bit 2) as `normalize` says.
inline void configure_hf(Pipeline& p, const std::vector<std::string>& split, int variant, int normalize) {
  std::vector<int64_t> ids;
  std::vector<uint8_t> flags;
  for (size_t i = 0; i < split.size(); ++i) {
    ids.push_back(static_cast<int64_t>(i));
    flags.push_back(static_cast<uint8_t>((variant + 7 * i) & 31));
  }
  p.configure(split, ids, ids, "[UNK]", 0, 0, {{"added", 1}}, split, true, flags, normalize);
}

inline void run(const Pipeline& p, const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = find_invalid_utf8(text, p.model().allows_surrogates()) == std::string_view::npos;
  try {
    std::vector<int64_t> ids, ids2;
    Encoding enc;
    p.encode_ids(text, false, ids, nullptr);
    p.encode_ids(text, true, ids2, &enc);
    if (ids.size() != ids2.size() || enc.starts.size() != ids.size()) __builtin_trap();
    int32_t cps = 0;
    for (size_t i = 0; i < size; ++i) cps += (data[i] & 0xC0) != 0x80;
    for (size_t i = 0; i < enc.starts.size(); ++i)
      if (enc.starts[i] < 0 || enc.starts[i] > enc.ends[i] || enc.ends[i] > cps) __builtin_trap();
    auto toks = p.tokenize(text);
    if (toks.size() != ids.size()) __builtin_trap();
    Encoding shown;  // what each split token matched: one valid, non-empty string per split code
    shown.keep_shown = true;
    p.encode_ids(text, false, ids2, &shown, false, false);
    size_t splits = 0;
    for (int32_t code : shown.codes) splits += is_split_code(code);
    if (shown.shown.size() != splits) __builtin_trap();
    for (const std::string& s : shown.shown)
      if (s.empty() || find_invalid_utf8(s, false) != std::string_view::npos) __builtin_trap();
    if (!valid) __builtin_trap();  // invalid text must not be accepted
  } catch (const std::invalid_argument&) {
    if (valid) __builtin_trap();  // valid text must not be rejected
  }
}
}  // namespace fuzz
