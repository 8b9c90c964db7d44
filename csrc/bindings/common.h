// Shared pybind11 helpers.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "common/tensor_view.h"

namespace tf {
namespace py = pybind11;

// Tensors cross as the torch.Tensor objects themselves: the caster below reads data_ptr(), dtype, shape,
// stride() and is_cpu through the Python C API, about 0.3 us a tensor (building a tuple per tensor in
// Python and converting it cost three times that). dtypes are matched by identity against the torch dtype
// objects that Python registers once (register_tensor_dtypes, index = DType code).
void register_tensor_dtypes(const py::sequence& dtypes);
bool read_tensor(PyObject* obj, TensorView& out);  // false when obj is not a tensor

using OptTensor = std::optional<TensorView>;  // None from Python
inline const TensorView* opt(const OptTensor& t) { return t ? &*t : nullptr; }

void bind_kernels(py::module_& m);
void bind_tokenizers(py::module_& m);

}  // namespace tf

namespace pybind11 {
namespace detail {
template <>
struct type_caster<tf::TensorView> {
  PYBIND11_TYPE_CASTER(tf::TensorView, const_name("torch.Tensor"));
  bool load(handle src, bool) { return tf::read_tensor(src.ptr(), value); }
  static handle cast(const tf::TensorView&, return_value_policy, handle) {
    pybind11_fail("TensorView is an argument type only");
  }
};
}  // namespace detail
}  // namespace pybind11
