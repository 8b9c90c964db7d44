// What every tokenizer shares: the 1.2.0 split on added/special tokens, the mapping of a model's
// pieces to ids (added-token overrides, unknown token), offsets, and batches across threads.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tf::tok {

constexpr int32_t kUnkPiece = -1;     // the model's unknown token (e.g. WordPiece [UNK])
constexpr int64_t kNoId = INT64_MIN;  // a token the vocabulary cannot map (1.2.0 returns None)
// Pieces outside the model's symbol table (e.g. a character no merge or vocabulary entry knows) are
// carried as strings in Encoding::extra, with codes kExtraPiece0 - index.
constexpr int32_t kExtraPiece0 = -(1 << 29);
inline bool is_extra_piece(int32_t code) { return code <= kExtraPiece0; }
// An added or special token the text was split on (code -(k + 2) for split token k).
inline bool is_split_code(int32_t code) { return code < kUnkPiece && !is_extra_piece(code); }

// Codes: piece index >= 0, kUnkPiece, a split (added/special) token k as -(k + 2), or an extra piece.
struct Encoding {
  std::vector<int32_t> codes;
  std::vector<int32_t> starts, ends;  // code point offsets into the whole text (when requested)
  std::vector<std::string> extra;
  // with keep_shown: per split code, in order, the text it matched as transformers' tokens() shows it (what lstrip /
  // rstrip took included; a normalized token's match as the normalized text has it)
  bool keep_shown = false;
  std::vector<std::string> shown;
  void clear() {
    extra.clear();
    shown.clear();
    codes.clear();
    starts.clear();
    ends.clear();
  }
  void push(int32_t code, int32_t start, int32_t end, bool offsets) {
    codes.push_back(code);
    if (offsets) {
      starts.push_back(start);
      ends.push_back(end);
    }
  }
};

// Tokens BERT never lower-cases; the length mask makes the common "no" answer cheap.
struct NeverSplit {
  std::unordered_set<std::string> set;
  uint64_t lengths = 0;  // bit L: some entry has L bytes (L < 64)
  uint64_t first[4] = {0, 0, 0, 0};  // bit b: some entry starts with byte b
  bool has_long = false;
  void add(const std::string& t) {
    set.insert(t);
    if (!t.empty()) first[static_cast<unsigned char>(t[0]) >> 6] |= uint64_t{1} << (t[0] & 63);
    if (t.size() < 64)
      lengths |= uint64_t{1} << t.size();
    else
      has_long = true;
  }
  bool contains(std::string_view t) const {
    if (set.empty()) return false;
    if (t.size() < 64 ? !((lengths >> t.size()) & 1) : !has_long) return false;
    if (!t.empty() && !((first[static_cast<unsigned char>(t[0]) >> 6] >> (t[0] & 63)) & 1)) return false;
    return set.count(std::string(t)) != 0;
  }
};

// The calling thread's instance of T (scratch buffers, caches). Not inlined on purpose: inlined, GCC
// re-derives a thread_local's address (a __tls_get_addr call in a shared library) at every use.
template <typename T>
[[gnu::noinline]] T& thread_scratch() {
  thread_local T t;
  return t;
}

struct SegmentContext {
  const NeverSplit* never_split = nullptr;
};

class Model {
 public:
  virtual ~Model() = default;
  // Tokenizes one segment of valid UTF-8. pos_base: code point index of seg[0] in the whole text.
  virtual void encode(std::string_view seg, int32_t pos_base, const SegmentContext& ctx, Encoding& out,
                      bool offsets) const = 0;
  virtual int32_t num_pieces() const = 0;
  virtual const std::string& piece(int32_t p) const = 0;  // the token string 1.2.0's tokenize prints
  virtual int32_t find_piece(std::string_view s) const = 0;  // piece with that string, or -1
  virtual int64_t piece_vocab_id(int32_t p) const = 0;       // its vocabulary id, or kNoId
  // Lone surrogates (from Python str) are tolerated by models whose reference tolerates them.
  virtual bool allows_surrogates() const { return false; }
};

// Which of a list of strings occur in a text at all, in one pass over it (the searches for each then skip the others:
// with many added tokens, one search per token over every text was most of the time). Few strings are all taken as
// present: their searches (memchr) cost less than the pass.
struct Occurrences {
  static constexpr size_t kFew = 12;
  bool few = true;
  uint64_t first[4] = {0, 0, 0, 0};                  // bit b: some string starts with byte b
  std::vector<std::pair<uint16_t, int32_t>> pairs;   // (first two bytes, string), sorted
  std::vector<std::pair<uint8_t, int32_t>> singles;  // (byte, string) of the one-byte strings
  void build(const std::vector<std::string>& strings);
  // present[k]: strings[k] occurs in h
  void find(const std::vector<std::string>& strings, std::string_view h, std::vector<char>& present) const;
};

// The tokens 1.2.0 splits the text on, in its order (added tokens, then all_special_tokens),
// and how every code maps to an id.
struct PipelineConfig {
  std::vector<std::string> split_tokens;
  std::vector<int64_t> split_id_single, split_id_pair;  // convert_tokens_to_ids / _convert_token_to_id
  std::unordered_map<std::string, int32_t> split_index;  // string -> first index
  int64_t unk_id_single = kNoId, unk_id_pair = kNoId;
  std::string unk_token;
  std::vector<int64_t> piece_id_single, piece_id_pair;
  std::unordered_map<std::string, int64_t> added_tokens;
  NeverSplit never_split;
  // transformers' split (tokenizers' AddedVocabulary) instead of 1.2.0's: leftmost-longest matches, the tokens
  // not normalized first, each token's flags (kLstrip...) honoured
  bool hf_split = false;
  std::vector<uint8_t> split_flags;  // per split token; empty: none set
  // how transformers normalizes the text its normalized added tokens match (AddedNormalize bits)
  int added_normalize = 0;
  std::vector<std::string> split_normalized;  // the split tokens as the normalizer leaves them
  Occurrences occurs_as_is, occurs_normalized;  // of split_tokens / split_normalized
  bool has_split_group[2] = {false, false};  // some split token is not normalized / is
};

// tokenizers' AddedToken flags; kContentOffsets: the token's offsets leave out what lstrip / rstrip took (RoBERTa's
// trim_offsets), else they cover it
enum SplitFlag : uint8_t { kLstrip = 1, kRstrip = 2, kSingleWord = 4, kNormalized = 8, kContentOffsets = 16 };
// transformers' BertNormalizer, the steps of it a family's normalizer takes
enum AddedNormalize : int { kAddedLower = 1, kAddedStripAccents = 2, kAddedCleanText = 4, kAddedChineseChars = 8 };

class Pipeline {
 public:
  // strip_parts: pytorch-transformers 1.2.0's split (every part between added/special tokens str.strip()ped, empty
  // parts dropped, whitespace-only text gives nothing); false: transformers' (the parts as they are, empty ones
  // dropped), for the byte-level BPE tokenizers given add_prefix_space.
  explicit Pipeline(std::shared_ptr<const Model> model, bool strip_parts = true);

  // Installs the special/added token state (a new immutable config; running calls keep the old).
  void configure(const std::vector<std::string>& split_tokens, const std::vector<int64_t>& split_id_single,
                 const std::vector<int64_t>& split_id_pair, const std::string& unk_token, int64_t unk_id_single,
                 int64_t unk_id_pair, const std::unordered_map<std::string, int64_t>& added_tokens,
                 const std::vector<std::string>& never_split, bool hf_split = false,
                 const std::vector<uint8_t>& split_flags = {}, int added_normalize = 0);

  // Codes for a whole text (UTF-8; validated here).
  void encode_codes(std::string_view text, Encoding& out, bool offsets) const;
  // Ids as 1.2.0's encode: pair=false maps like convert_tokens_to_ids, pair=true like _convert_token_to_id.
  // valid_utf8: the caller knows text is UTF-8 without surrogates (a Python str's own UTF-8), so it is not
  // checked again. codes: where the codes are kept, with their offsets unless offsets is false.
  void encode_ids(std::string_view text, bool pair, std::vector<int64_t>& ids, Encoding* codes,
                  bool valid_utf8 = false, bool offsets = true) const;
  std::vector<std::string> tokenize(std::string_view text) const;
  // Many texts across the thread pool. text(i, buf, valid) gives text i (buf: storage it may use; valid: as
  // encode_ids' valid_utf8); the workers take texts a few at a time, so a slow thread holds up no fixed share.
  using TextSource = std::function<std::string_view(size_t i, std::string& buf, bool& valid)>;
  // shown: the codes keep what each split token matched (Encoding::shown).
  std::vector<std::vector<int64_t>> encode_batch(size_t n, const TextSource& text, bool pair,
                                                 std::vector<Encoding>* codes, bool offsets = true,
                                                 bool shown = false) const;

  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<const PipelineConfig> config() const;
  void encode_codes(const PipelineConfig& cfg, std::string_view text, Encoding& out, bool offsets,
                    bool valid_utf8) const;
  int64_t code_to_id(const PipelineConfig& c, const Encoding& e, int32_t code, bool pair) const;

  std::shared_ptr<const Model> model_;
  bool strip_parts_;
  mutable std::mutex mu_;
  std::shared_ptr<const PipelineConfig> config_;
};

}  // namespace tf::tok
