// Tokenizer cores for transformers_fast/tokenization_*.py. Text crosses as UTF-8 borrowed from the
// Python str (lone surrogates re-encoded with "surrogatepass"); the work runs without the GIL.
#include <Python.h>

#include "bindings/common.h"
#include "common/check.h"
#include "tokenizers/batch_tensors.h"
#include "tokenizers/byte_bpe.h"
#include "tokenizers/moses.h"
#include "tokenizers/pipeline.h"
#include "tokenizers/unicode.h"
#include "tokenizers/word_bpe.h"
#include "tokenizers/wordpiece.h"

namespace tf {
namespace {
using namespace tf::tok;

struct Text {
  std::string_view view;
  py::object keep;  // owns the bytes view points into
  bool valid;       // UTF-8 without surrogates, known here (a str's own UTF-8, or checked bytes)
};

Text text_arg(py::handle h, const char* name) {
  if (PyUnicode_Check(h.ptr())) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(h.ptr(), &n);
    if (s) return {std::string_view(s, static_cast<size_t>(n)), py::reinterpret_borrow<py::object>(h), true};
    PyErr_Clear();  // lone surrogates: keep them, as code points U+D800..U+DFFF
    PyObject* b = PyUnicode_AsEncodedString(h.ptr(), "utf-8", "surrogatepass");
    if (!b) throw py::error_already_set();
    py::object ob = py::reinterpret_steal<py::object>(b);
    return {std::string_view(PyBytes_AS_STRING(b), static_cast<size_t>(PyBytes_GET_SIZE(b))), ob, false};
  }
  if (PyBytes_Check(h.ptr())) {
    std::string_view v(PyBytes_AS_STRING(h.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(h.ptr())));
    size_t bad = find_invalid_utf8(v, false);
    TF_CHECK(bad == std::string_view::npos, name, ": bytes are not valid UTF-8 (first bad byte at offset ", bad, ")");
    return {v, py::reinterpret_borrow<py::object>(h), true};
  }
  throw py::type_error(std::string(name) + " must be str or bytes, got " + std::string(py::str(py::type::handle_of(h).attr("__name__"))));
}

// A text for the encode paths, read without the GIL: bytes and ASCII str are borrowed as they are; any other
// str is written as UTF-8 from its code units when utf8() is called (so no UTF-8 copy is cached in the str,
// and in a batch the worker threads do it).
struct LazyText {
  py::object keep;        // owns the memory below
  std::string_view view;  // borrowed UTF-8, when data is null
  const void* data = nullptr;
  int kind = 0;  // PyUnicode kind of data (1, 2 or 4 bytes per code point)
  size_t len = 0;

  // UTF-8 of the text (in buf where converted); valid: no lone surrogates were written.
  std::string_view utf8(std::string& buf, bool& valid) const {
    valid = true;
    if (!data) return view;
    if (kind == PyUnicode_1BYTE_KIND)
      valid = !units_to_utf8(static_cast<const uint8_t*>(data), len, buf);
    else if (kind == PyUnicode_2BYTE_KIND)
      valid = !units_to_utf8(static_cast<const uint16_t*>(data), len, buf);
    else
      valid = !units_to_utf8(static_cast<const uint32_t*>(data), len, buf);
    return buf;
  }

  // Code units -> UTF-8 (lone surrogates written as "surrogatepass" does); true when some were.
  template <typename T>
  static bool units_to_utf8(const T* s, size_t n, std::string& out) {
    out.resize(n * (sizeof(T) == 1 ? 2 : sizeof(T) == 2 ? 3 : 4));
    char* o = out.data();
    bool surrogates = false;
    size_t i = 0;
    while (i < n) {
      while (i + 8 <= n) {  // runs of ASCII, 8 code units per step
        T any = 0;
        for (size_t k = 0; k < 8; ++k) any |= s[i + k];
        if (any >= 0x80) break;
        for (size_t k = 0; k < 8; ++k) o[k] = static_cast<char>(s[i + k]);
        o += 8;
        i += 8;
      }
      if (i >= n) break;
      const uint32_t c = s[i++];
      if (c < 0x80) {
        *o++ = static_cast<char>(c);
      } else if (c < 0x800) {
        *o++ = static_cast<char>(0xC0 | (c >> 6));
        *o++ = static_cast<char>(0x80 | (c & 0x3F));
      } else if (c < 0x10000) {
        surrogates |= c >= 0xD800 && c <= 0xDFFF;
        *o++ = static_cast<char>(0xE0 | (c >> 12));
        *o++ = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        *o++ = static_cast<char>(0x80 | (c & 0x3F));
      } else {
        *o++ = static_cast<char>(0xF0 | (c >> 18));
        *o++ = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        *o++ = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        *o++ = static_cast<char>(0x80 | (c & 0x3F));
      }
    }
    out.resize(static_cast<size_t>(o - out.data()));
    return surrogates;
  }
};

LazyText lazy_text_arg(py::handle h, const char* name) {
  LazyText t;
  if (PyUnicode_Check(h.ptr())) {
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(h.ptr()) < 0) throw py::error_already_set();
#endif
    t.keep = py::reinterpret_borrow<py::object>(h);
    const size_t n = static_cast<size_t>(PyUnicode_GET_LENGTH(h.ptr()));
    if (PyUnicode_IS_ASCII(h.ptr())) {
      t.view = std::string_view(static_cast<const char*>(PyUnicode_DATA(h.ptr())), n);
    } else {
      t.data = PyUnicode_DATA(h.ptr());
      t.kind = static_cast<int>(PyUnicode_KIND(h.ptr()));
      t.len = n;
    }
    return t;
  }
  Text b = text_arg(h, name);  // bytes (validated), or the type error
  t.keep = b.keep;
  t.view = b.view;
  return t;
}

// Ints of the ids below kCachedIds, made once and shared (ints are immutable): no allocation per token, and
// freeing a list frees no ints. Made kBlock consecutive ids at a time, so that they lie in memory in id order:
// vocabularies number their frequent tokens close together, and a list then increfs a few hot cache lines
// rather than one line per token. Only touched with the GIL held.
constexpr int64_t kCachedIds = 1 << 18, kBlock = 2048;
PyObject** id_cache() {
  static PyObject** cache = new PyObject*[kCachedIds]();  // never freed: ints outlive the module
  return cache;
}

// A new reference to the int id (slow path: not made yet, or not cached).
[[gnu::noinline]] PyObject* id_object_slow(int64_t id) {
  if (id < 0 || id >= kCachedIds) return PyLong_FromLongLong(id);
  PyObject** cache = id_cache();
  for (int64_t k = id & ~(kBlock - 1); k < (id | (kBlock - 1)) + 1; ++k) {
    if (cache[k]) continue;
    if (!(cache[k] = PyLong_FromLongLong(k))) return nullptr;
  }
  Py_INCREF(cache[id]);
  return cache[id];
}

py::list to_list(const std::vector<int64_t>& v) {
  const size_t n = v.size();
  py::list l(n);
  PyObject** items = reinterpret_cast<PyListObject*>(l.ptr())->ob_item;  // filled in place, as PyList_SET_ITEM
  PyObject** cache = id_cache();
  const int64_t* ids = v.data();
  for (size_t i = 0; i < n; ++i) {
    const uint64_t id = static_cast<uint64_t>(ids[i]);
    PyObject* o = id < static_cast<uint64_t>(kCachedIds) ? cache[id] : nullptr;
    if (o) {
      Py_INCREF(o);
    } else if (!(o = id_object_slow(ids[i]))) {
      throw py::error_already_set();
    }
    items[i] = o;
  }
  return l;
}

// Encodes one text without the GIL into this thread's reused buffers and returns convert(ids). The buffers are
// taken out while in use: converting may run Python code (a finalizer) that encodes again on this thread.
template <typename Convert>
auto encode_with(const Pipeline& p, py::handle text, bool pair, Convert convert) {
  LazyText t = lazy_text_arg(text, "text");
  thread_local std::vector<int64_t> kept_ids;
  thread_local std::string kept_buf;
  std::vector<int64_t> ids = std::move(kept_ids);
  std::string buf = std::move(kept_buf);
  {
    py::gil_scoped_release nogil;
    bool valid;
    std::string_view v = t.utf8(buf, valid);
    p.encode_ids(v, pair, ids, nullptr, valid);
  }
  auto out = convert(ids);
  kept_ids = std::move(ids);
  kept_buf = std::move(buf);
  return out;
}

py::list offsets_list(const Encoding& e) {
  py::list l(e.starts.size());
  for (size_t i = 0; i < e.starts.size(); ++i)
    PyList_SET_ITEM(l.ptr(), i, py::make_tuple(e.starts[i], e.ends[i]).release().ptr());
  return l;
}

// UTF-8 from the core as a Python str (lone surrogates, where the input had them, come back as such).
py::str utf8_str(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogatepass");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::list utf8_words(const std::string& s) {
  py::list out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ' ') {
      if (i > start) out.append(utf8_str(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  return out;
}

// One Moses stage on a Python str or bytes, validated and run without the GIL.
std::string run_moses_stage(const MosesPreTokenizer& m,
                            void (MosesPreTokenizer::*stage)(std::string_view, std::string&) const,
                            py::handle text) {
  Text t = text_arg(text, "text");
  std::string out;
  {
    py::gil_scoped_release nogil;
    check_utf8(t.view, true, "text");
    (m.*stage)(t.view, out);
  }
  return out;
}

// A batch encoded for __call__'s tensors: the ids of every text (and pair text) and the rows' plan, kept in C++
// until Python has made the arrays (torch.empty / np.empty, at the plan's width) for fill() to write.
struct TensorBatch {
  std::vector<std::vector<int64_t>> a, b;
  bool pair = false;
  SpecialLayout layout;
  TensorOptions options;
  RowPlan plan;
};

// The int64 rows x width array behind a writable, C-contiguous buffer (a numpy array, or a torch tensor's .numpy()).
int64_t* int64_rows(const py::handle& h, size_t rows, int64_t width, const char* name) {
  if (h.is_none()) return nullptr;
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(h).request(true);
  TF_CHECK(info.itemsize == 8 && (info.format == "q" || info.format == "l") && info.ndim == 2 &&
               info.shape[0] == static_cast<py::ssize_t>(rows) && info.shape[1] == width &&
               info.strides[1] == 8 && info.strides[0] == 8 * width,
           name, ": expected a C-contiguous int64 array of ", rows, " x ", width);
  return static_cast<int64_t*>(info.ptr);
}

}  // namespace

void bind_tokenizers(py::module_& m) {
  auto t = m.def_submodule("tokenizers", "C++ tokenizer cores");
  t.attr("unicode_version") = unicode_version();
  // the character classes of tokenizers' AddedVocabulary (Rust regex \w and \s), for the Python twin of its split
  auto one_char = [](const py::str& s) {  // (a lone surrogate too, as Python text may hold one)
    TF_CHECK(PyUnicode_GetLength(s.ptr()) == 1, "expected one character");
    return static_cast<char32_t>(PyUnicode_ReadChar(s.ptr(), 0));
  };
  t.def("is_word_char", [one_char](const py::str& c) { return is_word_char(one_char(c)); }, py::arg("char"));
  t.def("is_space_char", [one_char](const py::str& c) { return (flags(one_char(c)) & kRxS) != 0; }, py::arg("char"));

  py::class_<Model, std::shared_ptr<Model>>(t, "Model")
      .def_property_readonly("num_pieces", &Model::num_pieces)
      .def("piece", &Model::piece);

  py::class_<WordPieceModel, Model, std::shared_ptr<WordPieceModel>>(t, "WordPieceModel")
      .def(py::init([](const std::vector<std::string>& vocab, bool do_basic_tokenize, bool do_lower_case,
                       bool tokenize_chinese_chars, int max_input_chars_per_word, std::vector<int64_t> ids,
                       py::object strip_accents) {
             BertOptions o;
             o.do_basic_tokenize = do_basic_tokenize;
             o.do_lower_case = do_lower_case;
             o.tokenize_chinese_chars = tokenize_chinese_chars;
             o.max_input_chars_per_word = max_input_chars_per_word;
             // None: as do_lower_case (1.2.0); True/False: transformers' strip_accents
             o.strip_accents = strip_accents.is_none() ? -1 : (strip_accents.cast<bool>() ? 1 : 0);
             return std::make_shared<WordPieceModel>(vocab, o, std::move(ids));
           }),
           py::arg("vocab"), py::arg("do_basic_tokenize") = true, py::arg("do_lower_case") = true,
           py::arg("tokenize_chinese_chars") = true, py::arg("max_input_chars_per_word") = 100,
           py::arg("ids") = std::vector<int64_t>{}, py::arg("strip_accents") = py::none())
      .def("basic_tokenize",
           [](const WordPieceModel& m, py::handle text, const std::vector<std::string>& never_split) {
             Text t = text_arg(text, "text");
             NeverSplit ns;
             for (const auto& w : never_split) ns.add(w);
             std::vector<std::string> out;
             {
               py::gil_scoped_release nogil;
               out = m.basic_tokenize(t.view, ns);
             }
             return out;
           })
      .def("wordpiece_tokenize", [](const WordPieceModel& m, py::handle text, const std::string& unk) {
        Text t = text_arg(text, "text");
        Encoding e;
        {
          py::gil_scoped_release nogil;
          check_utf8(t.view, true, "text");
          m.wordpiece_only(t.view, 0, e, false);
        }
        std::vector<std::string> out;
        for (int32_t c : e.codes) out.push_back(c >= 0 ? m.piece(c) : unk);
        return out;
      });

  py::class_<ByteLevelBpeModel, Model, std::shared_ptr<ByteLevelBpeModel>>(t, "ByteLevelBpeModel")
      .def(py::init([](const std::unordered_map<std::string, int64_t>& encoder,
                       const std::vector<std::pair<std::string, std::string>>& merges, int prefix_space) {
             if (prefix_space < 0 || prefix_space > 2) throw py::value_error("prefix_space: 0 (always), 1 (never) or 2 (if absent)");
             return std::make_shared<ByteLevelBpeModel>(encoder, merges, static_cast<PrefixSpace>(prefix_space));
           }),
           py::arg("encoder"), py::arg("merges"), py::arg("prefix_space") = 0)
      .def("pretokenize", [](const ByteLevelBpeModel& m, py::handle text) {
        Text t = text_arg(text, "text");
        return m.pretokenize(t.view);
      });

  py::class_<WordEndBpeModel, Model, std::shared_ptr<WordEndBpeModel>>(t, "WordEndBpeModel")
      .def(py::init([](const std::unordered_map<std::string, int64_t>& encoder,
                       const std::vector<std::pair<std::string, std::string>>& merges, const std::string& split) {
             TF_CHECK(split == "basic_lower" || split == "spaces", "split must be 'basic_lower' or 'spaces', got '", split, "'");
             return std::make_shared<WordEndBpeModel>(
                 encoder, merges, split == "spaces" ? WordEndBpeModel::Split::kSpaces : WordEndBpeModel::Split::kBasicLower);
           }),
           py::arg("encoder"), py::arg("merges"), py::arg("split"))
      .def("bpe_words", [](const WordEndBpeModel& m, const std::vector<std::string>& words) {
        // pieces of every word, as strings (XLM's bpe after Python-side Moses tokenisation)
        std::vector<std::string> out;
        Encoding e;
        {
          py::gil_scoped_release nogil;
          for (const auto& w : words) {
            check_utf8(w, false, "word");
            m.word(w, nullptr, e, false);
          }
        }
        for (int32_t c : e.codes) out.push_back(is_extra_piece(c) ? e.extra[kExtraPiece0 - c] : m.piece(c));
        return out;
      });

  py::class_<MosesPreTokenizer, std::shared_ptr<MosesPreTokenizer>>(t, "MosesPreTokenizer")
      .def(py::init([](const std::string& lang, const std::u32string& is_alnum, const std::u32string& is_alpha,
                       const std::u32string& is_n, const std::u32string& is_lower, const std::u32string& alpha_apostrophe,
                       const std::vector<std::string>& nonbreaking_prefixes,
                       const std::vector<std::string>& numeric_only_prefixes) {
             MosesClassChars c{is_alnum, is_alpha, is_n, is_lower, alpha_apostrophe};
             return std::make_shared<MosesPreTokenizer>(lang, c, nonbreaking_prefixes, numeric_only_prefixes);
           }),
           py::arg("lang"), py::arg("is_alnum"), py::arg("is_alpha"), py::arg("is_n"), py::arg("is_lower"),
           py::arg("alpha_apostrophe"), py::arg("nonbreaking_prefixes"), py::arg("numeric_only_prefixes"))
      .def_property_readonly("lang", &MosesPreTokenizer::lang)
      .def("normalize",
           [](const MosesPreTokenizer& m, py::handle text) {
             return utf8_str(run_moses_stage(m, &MosesPreTokenizer::normalize, text));
           })
      .def("tokenize",
           [](const MosesPreTokenizer& m, py::handle text) {
             return utf8_words(run_moses_stage(m, &MosesPreTokenizer::tokenize, text));
           })
      .def("pretokenize", [](const MosesPreTokenizer& m, py::handle text) {
        return utf8_words(run_moses_stage(m, &MosesPreTokenizer::pretokenize, text));
      });

  py::class_<MosesBpeModel, Model, std::shared_ptr<MosesBpeModel>>(t, "MosesBpeModel")
      .def(py::init([](std::shared_ptr<MosesPreTokenizer> moses, std::shared_ptr<WordEndBpeModel> bpe,
                       bool lowercase_and_remove_accent) {
             return std::make_shared<MosesBpeModel>(moses, bpe, lowercase_and_remove_accent);
           }),
           py::arg("moses"), py::arg("bpe"), py::arg("lowercase_and_remove_accent"))
      .def("words", [](const MosesBpeModel& m, py::handle text) {
        Text t = text_arg(text, "text");
        std::vector<std::string> out;
        {
          py::gil_scoped_release nogil;
          check_utf8(t.view, true, "text");
          out = m.words(t.view);
        }
        py::list l;
        for (const auto& w : out) l.append(utf8_str(w));
        return l;
      });

  py::class_<TensorBatch>(t, "TensorBatch")
      .def_property_readonly("rows", [](const TensorBatch& b) { return b.a.size(); })
      .def_property_readonly("width", [](const TensorBatch& b) { return b.plan.width; })
      .def(
          "fill",
          [](const TensorBatch& b, py::handle ids, py::handle types, py::handle mask) {
            const size_t n = b.a.size();
            int64_t* pi = int64_rows(ids, n, b.plan.width, "ids");
            int64_t* pt = int64_rows(types, n, b.plan.width, "types");
            int64_t* pm = int64_rows(mask, n, b.plan.width, "mask");
            TF_CHECK(pi != nullptr, "ids: an array is needed");
            py::gil_scoped_release nogil;
            fill_rows(b.a, b.pair ? &b.b : nullptr, b.layout, b.options, b.plan, 0, n, pi, pt, pm);
          },
          py::arg("ids"), py::arg("types") = py::none(), py::arg("mask") = py::none());

  py::class_<Pipeline, std::shared_ptr<Pipeline>>(t, "Pipeline")
      .def(py::init([](std::shared_ptr<Model> model, bool strip_parts) { return std::make_shared<Pipeline>(model, strip_parts); }),
           py::arg("model"), py::arg("strip_parts") = true)
      .def_property_readonly("model", [](const Pipeline& p) { return &p.model(); }, py::return_value_policy::reference_internal)
      .def(
          "configure",
          [](Pipeline& p, const std::vector<std::string>& split_tokens, const std::vector<py::object>& id_single,
             const std::vector<py::object>& id_pair, const std::string& unk_token, py::object unk_single,
             py::object unk_pair, const std::unordered_map<std::string, int64_t>& added,
             const std::vector<std::string>& never_split, bool hf_split, const std::vector<uint8_t>& split_flags,
             int added_normalize) {
            auto conv = [](const py::object& o) { return o.is_none() ? kNoId : o.cast<int64_t>(); };
            std::vector<int64_t> s, q;
            for (auto& o : id_single) s.push_back(conv(o));
            for (auto& o : id_pair) q.push_back(conv(o));
            p.configure(split_tokens, s, q, unk_token, conv(unk_single), conv(unk_pair), added, never_split, hf_split,
                        split_flags, added_normalize);
          },
          py::arg("split_tokens"), py::arg("split_id_single"), py::arg("split_id_pair"), py::arg("unk_token"),
          py::arg("unk_id_single"), py::arg("unk_id_pair"), py::arg("added_tokens"), py::arg("never_split"),
          py::arg("hf_split") = false, py::arg("split_flags") = std::vector<uint8_t>{}, py::arg("added_normalize") = 0)
      .def("tokenize",
           [](const Pipeline& p, py::handle text) {
             Text t = text_arg(text, "text");
              std::vector<std::string> out;
             {
               py::gil_scoped_release nogil;
               out = p.tokenize(t.view);
             }
             return out;
           })
      .def(
          "encode",
          [](const Pipeline& p, py::handle text, bool pair) { return encode_with(p, text, pair, to_list); },
          py::arg("text"), py::arg("pair") = false)
      .def(
          "encode_buffer",
          [](const Pipeline& p, py::handle text) {
            // The ids as int64 bytes for numpy / torch to view: no Python int per id (most of encode's time on
            // text whose words are cached).
            return encode_with(p, text, false, [](const std::vector<int64_t>& ids) {
              return py::bytearray(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int64_t));
            });
          },
          py::arg("text"))
      .def(
          "encode_offsets",
          [](const Pipeline& p, py::handle text, bool pair) {
            LazyText t = lazy_text_arg(text, "text");
            std::vector<int64_t> ids;
            Encoding e;
            {
              py::gil_scoped_release nogil;
              std::string buf;
              bool valid;
              std::string_view v = t.utf8(buf, valid);
              p.encode_ids(v, pair, ids, &e, valid);
            }
            return py::make_tuple(to_list(ids), offsets_list(e));
          },
          py::arg("text"), py::arg("pair") = false)
      .def(
          "encode_batch",
          // fixed: also, per text, {position: text matched} of the added / special tokens it was split on (the text as
          // transformers' tokens() shows it) and {position: piece} of the model's pieces not in its vocabulary (an
          // unknown "x</w>"); the result is then (ids, offsets or None, the first dicts, the second dicts)
          [](const Pipeline& p, const py::list& texts, bool pair, bool offsets, bool fixed) {
            std::vector<LazyText> keep;
            keep.reserve(texts.size());
            for (size_t i = 0; i < texts.size(); ++i) keep.push_back(lazy_text_arg(texts[i], "texts[i]"));
            std::vector<std::vector<int64_t>> ids;
            std::vector<Encoding> encs;
            {
              py::gil_scoped_release nogil;
              ids = p.encode_batch(
                  keep.size(), [&](size_t i, std::string& buf, bool& valid) { return keep[i].utf8(buf, valid); }, pair,
                  offsets || fixed ? &encs : nullptr, offsets, fixed);
            }
            py::list out(ids.size());
            for (size_t i = 0; i < ids.size(); ++i) PyList_SET_ITEM(out.ptr(), i, to_list(ids[i]).release().ptr());
            if (!offsets && !fixed) return py::object(out);
            py::object ol = py::none();
            if (offsets) {
              py::list l(encs.size());
              for (size_t i = 0; i < encs.size(); ++i)
                PyList_SET_ITEM(l.ptr(), i, offsets_list(encs[i]).release().ptr());
              ol = l;
            }
            if (!fixed) return py::object(py::make_tuple(out, ol));
            py::list fl(encs.size()), pl(encs.size());
            for (size_t i = 0; i < encs.size(); ++i) {
              py::dict at, pieces;
              const Encoding& e = encs[i];
              for (size_t k = 0, j = 0; k < e.codes.size(); ++k) {
                if (is_split_code(e.codes[k])) at[py::int_(k)] = py::str(e.shown[j++]);
                if (is_extra_piece(e.codes[k])) pieces[py::int_(k)] = py::str(e.extra[kExtraPiece0 - e.codes[k]]);
              }
              PyList_SET_ITEM(fl.ptr(), i, at.release().ptr());
              PyList_SET_ITEM(pl.ptr(), i, pieces.release().ptr());
            }
            return py::object(py::make_tuple(out, ol, fl, pl));
          },
          py::arg("texts"), py::arg("pair") = false, py::arg("offsets") = false, py::arg("fixed") = false)
      .def(
          "encode_tensors",
          // texts (and pairs) encoded as encode_batch does, added tokens looked up in both (as transformers), the
          // rows planned; None where the Python path must answer (see plan_rows)
          [](const Pipeline& p, const py::list& texts, py::object pairs, std::vector<int64_t> prefix,
             std::vector<int64_t> mid, std::vector<int64_t> suffix, std::vector<int64_t> prefix_types,
             std::vector<int64_t> mid_types, std::vector<int64_t> suffix_types, int64_t type_a, int64_t type_b,
             const std::string& truncation, int64_t max_length, const std::string& padding, int64_t pad_id,
             int64_t pad_type, bool pad_left) -> py::object {
            TF_CHECK(prefix.size() == prefix_types.size() && mid.size() == mid_types.size() &&
                         suffix.size() == suffix_types.size(),
                     "every special token needs its token type");
            auto b = std::make_unique<TensorBatch>();
            b->layout = SpecialLayout{std::move(prefix), std::move(mid), std::move(suffix), std::move(prefix_types),
                                      std::move(mid_types), std::move(suffix_types), type_a, type_b};
            TensorOptions& o = b->options;
            if (truncation == "longest_first") o.truncation = Truncation::kLongestFirst;
            else if (truncation == "only_first") o.truncation = Truncation::kOnlyFirst;
            else if (truncation == "only_second") o.truncation = Truncation::kOnlySecond;
            else TF_CHECK(truncation.empty(), "unknown truncation '", truncation, "'");
            if (padding == "longest") o.padding = Padding::kLongest;
            else if (padding == "max_length") o.padding = Padding::kMaxLength;
            else TF_CHECK(padding.empty(), "unknown padding '", padding, "'");
            o.max_length = max_length;
            o.pad_id = pad_id;
            o.pad_type = pad_type;
            o.pad_left = pad_left;
            b->pair = !pairs.is_none();
            std::vector<LazyText> ka, kb;
            ka.reserve(texts.size());
            for (size_t i = 0; i < texts.size(); ++i) ka.push_back(lazy_text_arg(texts[i], "texts[i]"));
            if (b->pair) {
              py::list pl = pairs.cast<py::list>();
              TF_CHECK(pl.size() == texts.size(), "pairs has ", pl.size(), " texts, texts has ", texts.size());
              for (size_t i = 0; i < pl.size(); ++i) kb.push_back(lazy_text_arg(pl[i], "pairs[i]"));
            }
            bool ok;
            {
              py::gil_scoped_release nogil;
              auto source = [](const std::vector<LazyText>& k) {
                return [&k](size_t i, std::string& buf, bool& valid) { return k[i].utf8(buf, valid); };
              };
              b->a = p.encode_batch(ka.size(), source(ka), false, nullptr);
              if (b->pair) b->b = p.encode_batch(kb.size(), source(kb), false, nullptr);
              ok = plan_rows(b->a, b->pair ? &b->b : nullptr, b->layout, b->options, b->plan);
            }
            if (!ok) return py::none();
            return py::cast(std::move(b));
          },
          py::arg("texts"), py::arg("pairs"), py::arg("prefix"), py::arg("mid"),
          py::arg("suffix"), py::arg("prefix_types"), py::arg("mid_types"), py::arg("suffix_types"), py::arg("type_a"),
          py::arg("type_b"), py::arg("truncation"), py::arg("max_length"), py::arg("padding"), py::arg("pad_id"),
          py::arg("pad_type"), py::arg("pad_left"));
}

}  // namespace tf
