#include <iterator>

#include "bindings/common.h"
#include "common/huge_pages.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "layers/decoder_layer.h"
#include "layers/encoder_layer.h"
#include "kernels/gemm_int8.h"
#include "kernels/gemm_small.h"
#include "kernels/layer_norm.h"
#include "kernels/relative_attention.h"
#include "kernels/softmax.h"

namespace tf {

// A layer's weights (views of its tensors), bound once for the one-call layer kernels; `owner` keeps the
// tensors behind the views alive.
struct BoundLayer {
  LayerWeights w;
  py::object owner;
};

void bind_kernels(py::module_& m) {
  auto nogil = py::call_guard<py::gil_scoped_release>();
  m.def("register_tensor_dtypes", &register_tensor_dtypes, py::arg("dtypes"),
        "The torch dtypes of the DType codes, in code order (float32, float16, bfloat16, int32, int64, uint8, int8).");
  m.def(
      "gelu",
      [](const TensorView& x, const TensorView& out, bool tanh) {
        gelu(x, nullptr, out, tanh ? GeluKind::tanh : GeluKind::erf);
      },
      py::arg("x"), py::arg("out"), py::arg("tanh"), nogil);
  m.def(
      "bias_gelu",
      [](const TensorView& x, const TensorView& bias, const TensorView& out, bool tanh) {
        gelu(x, &bias, out, tanh ? GeluKind::tanh : GeluKind::erf);
      },
      py::arg("x"), py::arg("bias"), py::arg("out"), py::arg("tanh"), nogil);
  m.def(
      "add_layer_norm",
      [](const TensorView& x, const OptTensor& residual, const OptTensor& x_bias, const OptTensor& weight,
         const OptTensor& bias, const TensorView& out, double eps) {
        add_layer_norm(x, opt(residual), opt(x_bias), opt(weight), opt(bias), out, eps);
      },
      py::arg("x"), py::arg("residual"), py::arg("x_bias"), py::arg("weight"), py::arg("bias"), py::arg("out"),
      py::arg("eps"), nogil);
  m.def(
      "masked_softmax",
      [](const TensorView& scores, const OptTensor& mask, const OptTensor& lengths, const TensorView& out, double scale,
         bool causal) {
        masked_softmax(scores, opt(mask), opt(lengths), out, scale, causal);
      },
      py::arg("scores"), py::arg("mask"), py::arg("lengths"), py::arg("out"), py::arg("scale"), py::arg("causal"),
      nogil);
  m.def(
      "logsumexp_update",
      [](const TensorView& logits, const OptTensor& out, const TensorView& running_max, const TensorView& running_sum) {
        logsumexp_update(logits, opt(out), running_max, running_sum);
      },
      py::arg("logits"), py::arg("out"), py::arg("running_max"), py::arg("running_sum"), nogil);
  m.def(
      "advise_huge_pages",
      [](const TensorView& t) {
        TF_CHECK(t.is_cpu, "advise_huge_pages: expected a CPU tensor");
        TF_CHECK(t.is_contiguous(), "advise_huge_pages: expected a contiguous tensor");
        return advise_huge_pages(t.data, static_cast<size_t>(t.numel() * dtype_size(t.dtype)));
      },
      py::arg("tensor"),
      "Before its first write: backs the tensor's whole 2 MB pages with transparent huge pages (Linux; whether "
      "the advice was taken).");
  m.def(
      "attention",
      [](const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out, const OptTensor& mask,
         const OptTensor& kv_lengths, const OptTensor& cu_seqlens, double scale, bool causal) {
        attention(q, k, v, out, opt(mask), opt(kv_lengths), opt(cu_seqlens), scale, causal);
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("mask"), py::arg("kv_lengths"),
      py::arg("cu_seqlens"), py::arg("scale"), py::arg("causal"), nogil);
  m.def(
      "attention_int8_kv",
      [](const TensorView& q, const TensorView& k, const TensorView& k_scale, const TensorView& v,
         const TensorView& v_scale, const TensorView& out, const OptTensor& mask, const OptTensor& kv_lengths,
         double scale, bool causal) {
        attention_int8_kv(q, k, k_scale, v, v_scale, out, opt(mask), opt(kv_lengths), scale, causal);
      },
      py::arg("q"), py::arg("k"), py::arg("k_scale"), py::arg("v"), py::arg("v_scale"), py::arg("out"), py::arg("mask"),
      py::arg("kv_lengths"), py::arg("scale"), py::arg("causal"), nogil);
  m.def(
      "quantize_kv", [](const TensorView& x, const TensorView& q, const TensorView& scale) { quantize_kv(x, q, scale); },
      py::arg("x"), py::arg("q"), py::arg("scale"), nogil);
  m.def(
      "relative_attention",
      [](const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& r, const TensorView& r_w_bias,
         const TensorView& r_r_bias, const TensorView& out, const OptTensor& mask, const OptTensor& seg_diff,
         const OptTensor& seg_embed, const OptTensor& r_s_bias, double scale, int64_t shift) {
        relative_attention(q, k, v, r, r_w_bias, r_r_bias, out, opt(mask), opt(seg_diff), opt(seg_embed),
                           opt(r_s_bias), scale, shift);
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("r"), py::arg("r_w_bias"), py::arg("r_r_bias"), py::arg("out"),
      py::arg("attn_mask"), py::arg("seg_diff"), py::arg("seg_embed"), py::arg("r_s_bias"), py::arg("scale"),
      py::arg("shift"), nogil);
  m.def(
      "relative_attention_int8_kv",
      [](const TensorView& q, const TensorView& k, const TensorView& k_scale, const TensorView& v,
         const TensorView& v_scale, const TensorView& r, const TensorView& r_w_bias, const TensorView& r_r_bias,
         const TensorView& out, const OptTensor& mask, const OptTensor& seg_diff, const OptTensor& seg_embed,
         const OptTensor& r_s_bias, double scale, int64_t shift) {
        relative_attention_int8_kv(q, k, k_scale, v, v_scale, r, r_w_bias, r_r_bias, out, opt(mask), opt(seg_diff),
                                   opt(seg_embed), opt(r_s_bias), scale, shift);
      },
      py::arg("q"), py::arg("k"), py::arg("k_scale"), py::arg("v"), py::arg("v_scale"), py::arg("r"),
      py::arg("r_w_bias"), py::arg("r_r_bias"), py::arg("out"), py::arg("attn_mask"), py::arg("seg_diff"),
      py::arg("seg_embed"), py::arg("r_s_bias"), py::arg("scale"), py::arg("shift"), nogil);
  m.attr("dot_max_queries") = kDotMaxQueries;
  m.attr("gemm_small_panel") = kGemmPanel;
  m.def(
      "gemm_small_pack", [](const TensorView& w, const TensorView& packed) { gemm_small_pack(w, packed); },
      py::arg("weight"), py::arg("packed"), nogil);
  m.def(
      "gemm_small",
      [](const TensorView& x, const TensorView& packed, const OptTensor& bias, const TensorView& out,
         int64_t out_features, int activation) {
        gemm_small(x, packed, opt(bias), out, out_features, static_cast<GemmAct>(activation));
      },
      py::arg("x"), py::arg("packed"), py::arg("bias"), py::arg("out"), py::arg("out_features"),
      py::arg("activation"), nogil);
  m.attr("gemm_int8_panel") = kInt8Panel;
  m.attr("gemm_int8_group") = kInt8Group;
  m.attr("gemm_int8_max_k") = kInt8MaxK;
  m.def(
      "gemm_int8_kernel", [] { return std::string(gemm_int8_kernel_name(gemm_int8_kernel())); },
      "The int8 GEMM's inner kernel now: avx512_vnni, avx2_vpmaddwd or generic.");
  m.def("gemm_int8_allow_vnni", &gemm_int8_allow_vnni, py::arg("on"),
        "False keeps AVX-512 VNNI machines on the vpmaddwd kernel (tests, benchmarks).");
  m.def("gemm_int8_allow_amx", &gemm_int8_allow_amx, py::arg("on"),
        "False keeps AMX machines on the VNNI kernel (tests, benchmarks).");
  m.def("gemm_int8_emulate_amx", &gemm_int8_emulate_amx, py::arg("on"),
        "True runs the AMX kernel's logic on its scalar tile emulation, on any CPU (tests; slow).");
  m.def("cpu_has_amx_int8", &cpu_has_amx_int8, "AMX-INT8 usable by this process (CPU, OS, permission).");
  m.def(
      "_passes_in_child_process",
      [](const std::string& outcome) {
        using Check = bool (*)();
        const Check check = outcome == "true"    ? Check([] { return true; })
                            : outcome == "false" ? Check([] { return false; })
                            : outcome == "trap"  ? Check([]() -> bool { __builtin_trap(); })
                                                 : nullptr;
        TF_CHECK(check != nullptr, "outcome: expected 'true', 'false' or 'trap', got '", outcome, "'");
        py::gil_scoped_release release;
        return passes_in_child_process(check);
      },
      py::arg("outcome"),
      "Tests: the child-process probe the AMX kernel passes before first use, on a check that returns true, "
      "false, or faults (trap: an illegal instruction).");
  m.def(
      "gemm_int8_pack",
      [](const TensorView& w, const TensorView& packed, const TensorView& colsum) {
        gemm_int8_pack(w, packed, colsum);
      },
      py::arg("weight"), py::arg("packed"), py::arg("colsum"), nogil);
  m.def(
      "gemm_int8",
      [](const TensorView& x, const TensorView& packed, const TensorView& colsum, const TensorView& w_scale,
         const OptTensor& bias, const TensorView& out, int64_t out_features, int activation) {
        gemm_int8(x, packed, colsum, w_scale, opt(bias), out, out_features, static_cast<GemmAct>(activation));
      },
      py::arg("x"), py::arg("packed"), py::arg("colsum"), py::arg("weight_scale"), py::arg("bias"), py::arg("out"),
      py::arg("out_features"), py::arg("activation"), nogil);
  py::class_<BoundLayer>(m, "LayerWeights")
      .def(py::init([](const py::sequence& tensor_objs, int64_t hidden, int64_t heads, int64_t head_dim,
                       int64_t inner, double eps1, double eps2, int activation, py::object owner,
                       const py::sequence& int8_objs) {
             // The views' tensors are kept alive with the binding (a caller's owner need not hold them).
             const py::tuple kept_tensors(tensor_objs), kept_int8(int8_objs);
             auto view = [](py::handle h, bool none_ok) -> OptTensor {
               TensorView t;
               if (none_ok && h.is_none()) return std::nullopt;
               if (!read_tensor(h.ptr(), t)) throw py::type_error("LayerWeights: expected torch tensors");
               return t;
             };
             std::vector<TensorView> tensors;
             for (py::handle h : kept_tensors) tensors.push_back(*view(h, false));
             std::vector<OptTensor> int8_parts;
             for (py::handle h : kept_int8) int8_parts.push_back(view(h, true));
             LayerWeights w;
             TensorView* slots[] = {&w.qkv.weight, &w.qkv_bias, &w.out.weight, &w.out_bias, &w.ln1_weight,
                                    &w.ln1_bias, &w.ffn_in.weight, &w.ffn_in_bias, &w.ffn_out.weight,
                                    &w.ffn_out_bias, &w.ln2_weight, &w.ln2_bias};
             TF_CHECK(tensors.size() == std::size(slots), "tensors: expected the ", std::size(slots), " of a layer");
             TF_CHECK(activation >= 0 && activation <= 2, "activation: unknown code");
             for (size_t i = 0; i < tensors.size(); ++i) *slots[i] = tensors[i];
             // (colsum, scale) of qkv, out, ffn_in, ffn_out: None for a float projection
             LayerProjection* projections[] = {&w.qkv, &w.out, &w.ffn_in, &w.ffn_out};
             TF_CHECK(int8_parts.empty() || int8_parts.size() == 2 * std::size(projections),
                      "int8_parts: expected (colsum, scale) of the 4 projections, or none");
             for (size_t i = 0; i < int8_parts.size(); i += 2) {
               LayerProjection& p = *projections[i / 2];
               TF_CHECK(p.int8() == (int8_parts[i] && int8_parts[i + 1]),
                        "int8_parts: an int8 projection takes its colsum and scale, a float one none");
               if (p.int8()) p.colsum = *int8_parts[i], p.scale = *int8_parts[i + 1];
             }
             w.hidden = hidden, w.heads = heads, w.head_dim = head_dim, w.inner = inner;
             w.eps1 = eps1, w.eps2 = eps2, w.activation = static_cast<GemmAct>(activation);
             check_layer_weights(w);
             return BoundLayer{std::move(w), py::make_tuple(std::move(owner), kept_tensors, kept_int8)};
           }),
           py::arg("tensors"), py::arg("hidden"), py::arg("heads"), py::arg("head_dim"), py::arg("inner"),
           py::arg("eps1"), py::arg("eps2"), py::arg("activation"), py::arg("owner"),
           py::arg("int8_parts") = py::tuple());
  m.def(
      "encoder_layer",
      [](const TensorView& x, const TensorView& cu_seqlens, const BoundLayer& layer, const TensorView& out,
         double scale) { encoder_layer(x, cu_seqlens, layer.w, out, scale); },
      py::arg("x"), py::arg("cu_seqlens"), py::arg("weights"), py::arg("out"), py::arg("scale"), nogil);
  m.def(
      "decoder_layer_step",
      [](const TensorView& x, const TensorView& kv, const OptTensor& kv_scale, int64_t position,
         const OptTensor& key_bias, const BoundLayer& layer, double scale, bool pre_ln) {
        decoder_layer_step(x, kv, opt(kv_scale), position, opt(key_bias), layer.w, scale, pre_ln);
      },
      py::arg("x"), py::arg("kv"), py::arg("kv_scale"), py::arg("position"), py::arg("key_bias"), py::arg("weights"),
      py::arg("scale"), py::arg("pre_ln"), nogil);
}

}  // namespace tf
