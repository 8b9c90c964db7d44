// A non-owning view of a dense tensor: the C++ core never sees torch, only this.
#pragma once
#include <cstdint>
#include <vector>

#include "common/check.h"

namespace tf {

// `other`: a dtype the core has no kernel for (float64, int16, ...), so that checks can name it.
enum class DType : int { f32 = 0, f16 = 1, bf16 = 2, i32 = 3, i64 = 4, u8 = 5, i8 = 6, other = 7 };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::i8: return "int8";
    case DType::other: return "a dtype without kernels";
  }
  return "unknown";
}

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements
  bool is_cpu = true;

  int64_t dim() const { return static_cast<int64_t>(shape.size()); }
  int64_t size(int64_t d) const { return shape.at(d < 0 ? d + dim() : d); }
  int64_t numel() const {
    int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
  bool is_contiguous() const {
    int64_t expected = 1;
    for (int64_t d = dim() - 1; d >= 0; --d) {
      if (shape[d] != 1 && strides[d] != expected) return false;
      expected *= shape[d];
    }
    return true;
  }
  template <typename T>
  T* ptr() const { return static_cast<T*>(data); }
};

// contiguous=false accepts any non-negative strides (broadcast views with stride 0, row strides).
// on_cpu: where the kernel reads the tensor (false: a CUDA kernel; its emulated build reads host memory).
inline void check_tensor_on(const TensorView& t, const char* name, DType dtype, bool on_cpu,
                            bool contiguous = true) {
  TF_CHECK(t.is_cpu == on_cpu, name, on_cpu ? ": must be a CPU tensor" : ": must be a CUDA tensor");
  TF_CHECK(t.data != nullptr || t.numel() == 0, name, ": null data pointer");
  TF_CHECK(t.dtype == dtype, name, ": expected ", dtype_name(dtype), ", got ", dtype_name(t.dtype));
  TF_CHECK(t.shape.size() == t.strides.size(), name, ": shape and strides differ in rank");
  for (auto s : t.shape) TF_CHECK(s >= 0, name, ": negative size");
  for (auto s : t.strides) TF_CHECK(s >= 0, name, ": negative stride");
  TF_CHECK(!contiguous || t.is_contiguous(), name, ": must be contiguous");
}

inline void check_tensor(const TensorView& t, const char* name, DType dtype, bool contiguous = true) {
  check_tensor_on(t, name, dtype, /*on_cpu=*/true, contiguous);
}

// The dtypes the CPU kernels take: float32 and bfloat16 (computed in fp32). The other tensors of a call are
// then checked against this one's dtype.
inline void check_cpu_dtype(const TensorView& t, const char* name) {
  TF_CHECK(t.dtype == DType::f32 || t.dtype == DType::bf16, name, ": expected float32 or bfloat16, got ",
           dtype_name(t.dtype));
}

inline void check_same_shape(const TensorView& a, const char* an, const TensorView& b, const char* bn) {
  TF_CHECK(a.shape == b.shape, an, " and ", bn, " must have the same shape");
}

}  // namespace tf
