#include "bindings/common.h"
#include "kernels/activation.h"

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
}

}  // namespace tf
