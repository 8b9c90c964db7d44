#include "bindings/common.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/gemm_small.h"
#include "kernels/layer_norm.h"
#include "kernels/softmax.h"

namespace tf {

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
}

}  // namespace tf
