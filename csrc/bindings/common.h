// Shared pybind11 helpers: tensors cross the boundary as (data_ptr, dtype code, shape, strides).
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

#include "common/tensor_view.h"

namespace tf {
namespace py = pybind11;

using TensorArg = std::tuple<uintptr_t, int, std::vector<int64_t>, std::vector<int64_t>>;

inline TensorView to_view(const TensorArg& a) {
  TensorView v;
  v.data = reinterpret_cast<void*>(std::get<0>(a));
  int code = std::get<1>(a);
  TF_CHECK(code >= 0 && code <= static_cast<int>(DType::u8), "unknown dtype code ", code);
  v.dtype = static_cast<DType>(code);
  v.shape = std::get<2>(a);
  v.strides = std::get<3>(a);
  return v;
}

using OptTensorArg = std::optional<TensorArg>;

// An optional tensor argument as a TensorView* (nullptr when None).
struct OptView {
  std::optional<TensorView> v;
  explicit OptView(const OptTensorArg& a) {
    if (a) v = to_view(*a);
  }
  const TensorView* get() const { return v ? &*v : nullptr; }
};

void bind_kernels(py::module_& m);
void bind_tokenizers(py::module_& m);

}  // namespace tf
