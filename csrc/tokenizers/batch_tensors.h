// The padded [rows, width] arrays of PreTrainedTokenizer.__call__(..., return_tensors=...), filled from the ids of a
// batch: special tokens where the tokenizer's add_special_tokens_* put them, truncation as Hugging Face's tokenizers
// library does it (tokenization_utils._truncate, the same rules), padding on either side. The Python path builds
// the same values as lists; this one writes them straight into the arrays.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tf::tok {

// prefix + A + suffix for one text, prefix + A + mid + B + suffix for a pair; the token type of every position.
struct SpecialLayout {
  std::vector<int64_t> prefix, mid, suffix;
  std::vector<int64_t> prefix_types, mid_types, suffix_types;
  int64_t type_a = 0, type_b = 1;
  int64_t extra(bool pair) const {
    return static_cast<int64_t>(prefix.size() + suffix.size() + (pair ? mid.size() : 0));
  }
};

enum class Truncation { kNone, kLongestFirst, kOnlyFirst, kOnlySecond };
enum class Padding { kNone, kLongest, kMaxLength };

struct TensorOptions {
  Truncation truncation = Truncation::kNone;
  int64_t max_length = -1;  // -1: none
  Padding padding = Padding::kNone;
  int64_t pad_id = 0, pad_type = 0;
  bool pad_left = false;
};

// What every row keeps of A and B after truncation, and the arrays' width.
struct RowPlan {
  std::vector<int64_t> keep_a, keep_b;
  int64_t width = 0;
};

// False where the Python path must answer instead: a truncation that is an error there, max_length below the
// special tokens (an error logged there), or rows of different lengths that padding leaves so (an error there).
bool plan_rows(const std::vector<std::vector<int64_t>>& a, const std::vector<std::vector<int64_t>>* b,
               const SpecialLayout& layout, const TensorOptions& options, RowPlan& plan);

// Writes rows [begin, end) of the [rows, plan.width] arrays; types and mask may be null.
void fill_rows(const std::vector<std::vector<int64_t>>& a, const std::vector<std::vector<int64_t>>* b,
               const SpecialLayout& layout, const TensorOptions& options, const RowPlan& plan, size_t begin,
               size_t end, int64_t* ids, int64_t* types, int64_t* mask);

}  // namespace tf::tok
