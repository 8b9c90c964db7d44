// A non-owning view of a dense tensor: the C++ core never sees torch, only this.
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>
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

inline int64_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f16: case DType::bf16: return 2;
    case DType::i64: return 8;
    default: return 1;
  }
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
    if (numel() == 0) return true;  // (nothing is read; torch gives empty tensors arbitrary strides)
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

// Byte range [begin, end) a view reaches; empty when it has no elements.
inline std::pair<uintptr_t, uintptr_t> byte_span(const TensorView& t) {
  if (t.numel() == 0 || t.data == nullptr) return {0, 0};
  int64_t last = 0;
  for (size_t d = 0; d < t.shape.size(); ++d) last += (t.shape[d] - 1) * t.strides[d];
  const auto begin = reinterpret_cast<uintptr_t>(t.data);
  return {begin, begin + static_cast<uintptr_t>((last + 1) * dtype_size(t.dtype))};
}

// A kernel writes `out` while it reads `in`: shared memory would give wrong results (threads read what others
// wrote), so it is an error, except for the very same view where same_ok (an op that runs in place).
inline void check_no_overlap(const TensorView& out, const char* out_name, const TensorView* in, const char* in_name,
                             bool same_ok = false) {
  if (!in) return;
  const auto a = byte_span(out), b = byte_span(*in);
  if (a.first >= b.second || b.first >= a.second) return;
  TF_CHECK(same_ok && out.data == in->data && out.dtype == in->dtype && out.shape == in->shape &&
               out.strides == in->strides,
           out_name, " and ", in_name, ": overlap in memory", same_ok ? " (only the very same tensor may be both)" : "");
}

// A tensor written through arbitrary strides must not have two elements in one place (an expanded view).
inline void check_no_internal_overlap(const TensorView& t, const char* name) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size) of the dims of size > 1
  for (size_t d = 0; d < t.shape.size(); ++d)
    if (t.shape[d] > 1) dims.emplace_back(t.strides[d], t.shape[d]);
  std::sort(dims.begin(), dims.end());
  int64_t extent = 1;  // elements spanned by the dims of smaller stride
  for (const auto& [stride, size] : dims) {
    TF_CHECK(stride >= extent, name, ": elements overlap in memory (an expanded view?); it is written");
    extent += stride * (size - 1);
  }
}

}  // namespace tf
