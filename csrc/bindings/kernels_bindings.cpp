#include <iterator>

#include "bindings/common.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/decoder_layer.h"
#include "kernels/encoder_layer.h"
#include "kernels/gemm_small.h"
#include "kernels/layer_norm.h"
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
  m.def(
      "gelu",
      [](const TensorArg& x, const TensorArg& out, bool tanh) {
        gelu(to_view(x), nullptr, to_view(out), tanh ? GeluKind::tanh : GeluKind::erf);
      },
      py::arg("x"), py::arg("out"), py::arg("tanh"), nogil);
  m.def(
      "bias_gelu",
      [](const TensorArg& x, const TensorArg& bias, const TensorArg& out, bool tanh) {
        TensorView b = to_view(bias);
        gelu(to_view(x), &b, to_view(out), tanh ? GeluKind::tanh : GeluKind::erf);
      },
      py::arg("x"), py::arg("bias"), py::arg("out"), py::arg("tanh"), nogil);
  m.def(
      "add_layer_norm",
      [](const TensorArg& x, const OptTensorArg& residual, const OptTensorArg& x_bias, const OptTensorArg& weight,
         const OptTensorArg& bias, const TensorArg& out, double eps) {
        OptView r(residual), xb(x_bias), w(weight), b(bias);
        add_layer_norm(to_view(x), r.get(), xb.get(), w.get(), b.get(), to_view(out), eps);
      },
      py::arg("x"), py::arg("residual"), py::arg("x_bias"), py::arg("weight"), py::arg("bias"), py::arg("out"),
      py::arg("eps"), nogil);
  m.def(
      "masked_softmax",
      [](const TensorArg& scores, const OptTensorArg& mask, const OptTensorArg& lengths, const TensorArg& out,
         double scale, bool causal) {
        OptView mk(mask), len(lengths);
        masked_softmax(to_view(scores), mk.get(), len.get(), to_view(out), scale, causal);
      },
      py::arg("scores"), py::arg("mask"), py::arg("lengths"), py::arg("out"), py::arg("scale"), py::arg("causal"),
      nogil);
  m.def(
      "attention",
      [](const TensorArg& q, const TensorArg& k, const TensorArg& v, const TensorArg& out, const OptTensorArg& mask,
         const OptTensorArg& kv_lengths, const OptTensorArg& cu_seqlens, double scale, bool causal) {
        OptView mk(mask), kl(kv_lengths), cu(cu_seqlens);
        attention(to_view(q), to_view(k), to_view(v), to_view(out), mk.get(), kl.get(), cu.get(), scale, causal);
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("mask"), py::arg("kv_lengths"),
      py::arg("cu_seqlens"), py::arg("scale"), py::arg("causal"), nogil);
  m.attr("gemm_small_panel") = kGemmPanel;
  m.def(
      "gemm_small_pack", [](const TensorArg& w, const TensorArg& packed) { gemm_small_pack(to_view(w), to_view(packed)); },
      py::arg("weight"), py::arg("packed"), nogil);
  m.def(
      "gemm_small",
      [](const TensorArg& x, const TensorArg& packed, const OptTensorArg& bias, const TensorArg& out,
         int64_t out_features, int activation) {
        OptView b(bias);
        gemm_small(to_view(x), to_view(packed), b.get(), to_view(out), out_features, static_cast<GemmAct>(activation));
      },
      py::arg("x"), py::arg("packed"), py::arg("bias"), py::arg("out"), py::arg("out_features"),
      py::arg("activation"), nogil);
  py::class_<BoundLayer>(m, "LayerWeights")
      .def(py::init([](const std::vector<TensorArg>& tensors, int64_t hidden, int64_t heads, int64_t head_dim,
                       int64_t inner, double eps1, double eps2, int activation, py::object owner) {
             LayerWeights w;
             TensorView* slots[] = {&w.qkv, &w.qkv_bias, &w.out, &w.out_bias, &w.ln1_weight, &w.ln1_bias,
                                    &w.ffn_in, &w.ffn_in_bias, &w.ffn_out, &w.ffn_out_bias, &w.ln2_weight, &w.ln2_bias};
             TF_CHECK(tensors.size() == std::size(slots), "tensors: expected the ", std::size(slots), " of a layer");
             TF_CHECK(activation >= 0 && activation <= 2, "activation: unknown code");
             for (size_t i = 0; i < tensors.size(); ++i) *slots[i] = to_view(tensors[i]);
             w.hidden = hidden, w.heads = heads, w.head_dim = head_dim, w.inner = inner;
             w.eps1 = eps1, w.eps2 = eps2, w.activation = static_cast<GemmAct>(activation);
             check_layer_weights(w);
             return BoundLayer{std::move(w), std::move(owner)};
           }),
           py::arg("tensors"), py::arg("hidden"), py::arg("heads"), py::arg("head_dim"), py::arg("inner"),
           py::arg("eps1"), py::arg("eps2"), py::arg("activation"), py::arg("owner"));
  m.def(
      "encoder_layer",
      [](const TensorArg& x, const TensorArg& cu_seqlens, const BoundLayer& layer, const TensorArg& out,
         double scale) { encoder_layer(to_view(x), to_view(cu_seqlens), layer.w, to_view(out), scale); },
      py::arg("x"), py::arg("cu_seqlens"), py::arg("weights"), py::arg("out"), py::arg("scale"), nogil);
  m.def(
      "decoder_layer_step",
      [](const TensorArg& x, const TensorArg& kv, int64_t position, const OptTensorArg& key_bias,
         const BoundLayer& layer, double scale, bool pre_ln) {
        OptView bias(key_bias);
        decoder_layer_step(to_view(x), to_view(kv), position, bias.get(), layer.w, scale, pre_ln);
      },
      py::arg("x"), py::arg("kv"), py::arg("position"), py::arg("key_bias"), py::arg("weights"), py::arg("scale"),
      py::arg("pre_ln"), nogil);
}

}  // namespace tf
