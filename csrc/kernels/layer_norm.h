// LayerNorm, optionally fused with the residual add before it: out = LN(x + x_bias + residual).
#pragma once
#include <cstdint>
#include <utility>

#include "common/cpu_features.h"
#include "common/tensor_view.h"

namespace tf {

// x, x_bias, residual and out in `dtype` (float32 or bfloat16), weight and bias in `param_dtype` (dtype, or
// float32 with bfloat16 x); the sum x + x_bias + residual and the statistics in fp32.
TF_ISA_DECLARE(void, add_layer_norm_cpu,
               (DType dtype, DType param_dtype,
                const void* x,         // [rows, cols]
                const void* x_bias,    // [cols] or nullptr
                const void* residual,  // [rows, cols] or nullptr
                const void* weight,    // [cols] or nullptr (= 1)
                const void* bias,      // [cols] or nullptr (= 0)
                void* out,             // [rows, cols]
                int64_t rows, int64_t cols, float eps))

inline void check_row_vector(const TensorView* t, const char* name, int64_t cols, DType dtype = DType::f32,
                             bool on_cpu = true) {
  if (!t) return;
  check_tensor_on(*t, name, dtype, on_cpu);
  TF_CHECK(t->dim() == 1 && t->size(0) == cols, name, ": expected shape [", cols, "]");
}

// The checks of every device's front; returns {rows, cols} of x viewed as [-1, cols].
inline std::pair<int64_t, int64_t> add_layer_norm_check(const TensorView& x, const TensorView* residual,
                                                        const TensorView* x_bias, const TensorView* weight,
                                                        const TensorView* bias, const TensorView& out,
                                                        double eps, DType dtype, bool on_cpu) {
  check_tensor_on(x, "x", dtype, on_cpu);
  check_tensor_on(out, "out", dtype, on_cpu);
  check_same_shape(x, "x", out, "out");
  TF_CHECK(x.dim() >= 1, "x: needs at least one dimension");
  TF_CHECK(eps >= 0, "eps: must be >= 0");
  int64_t cols = x.size(-1);
  int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  if (residual) {
    check_tensor_on(*residual, "residual", dtype, on_cpu);
    check_same_shape(x, "x", *residual, "residual");
  }
  check_row_vector(x_bias, "x_bias", cols, dtype, on_cpu);
  check_row_vector(weight, "weight", cols, dtype, on_cpu);
  check_row_vector(bias, "bias", cols, dtype, on_cpu);
  check_no_overlap(out, "out", &x, "x", /*same_ok=*/true);
  check_no_overlap(out, "out", residual, "residual", /*same_ok=*/true);
  for (auto [t, name] : {std::pair{x_bias, "x_bias"}, {weight, "weight"}, {bias, "bias"}})
    check_no_overlap(out, "out", t, name);
  return {rows, cols};
}

// x is viewed as [-1, cols]; residual (same shape as x), x_bias, weight and bias are optional. float32 or
// bfloat16, all alike, except that weight and bias may be float32 with bfloat16 x (both the same dtype, as
// torch's mixed-type layer_norm takes them).
inline void add_layer_norm(const TensorView& x, const TensorView* residual, const TensorView* x_bias,
                           const TensorView* weight, const TensorView* bias, const TensorView& out,
                           double eps) {
  check_cpu_dtype(x, "x");
  const TensorView* param = weight ? weight : bias;
  DType param_dtype = param && param->dtype == DType::f32 ? DType::f32 : x.dtype;
  TF_CHECK(!weight || !bias || weight->dtype == bias->dtype, "weight and bias: must have the same dtype, got ",
           dtype_name(weight ? weight->dtype : DType::f32), " and ", dtype_name(bias ? bias->dtype : DType::f32));
  auto [rows, cols] = add_layer_norm_check(x, residual, x_bias, nullptr, nullptr, out, eps, x.dtype, true);
  check_row_vector(weight, "weight", cols, param_dtype);
  check_row_vector(bias, "bias", cols, param_dtype);
  check_no_overlap(out, "out", weight, "weight");
  check_no_overlap(out, "out", bias, "bias");
  auto p = [](const TensorView* t) -> const void* { return t ? t->data : nullptr; };
  TF_ISA_CALL(add_layer_norm_cpu, x.dtype, param_dtype, x.data, p(x_bias), p(residual), p(weight), p(bias),
              out.data, rows, cols, static_cast<float>(eps));
}

// The CUDA kernel (layer_norm_cuda.cu): float32, float16 or bfloat16 (all tensors alike; fp32 statistics).
void add_layer_norm_cuda(const TensorView& x, const TensorView* residual, const TensorView* x_bias,
                         const TensorView* weight, const TensorView* bias, const TensorView& out, double eps,
                         void* stream);

}  // namespace tf
