// LayerNorm, optionally fused with the residual add before it: out = LN(x + x_bias + residual).
#pragma once
#include <cstdint>
#include <utility>

#include "common/cpu_features.h"
#include "common/tensor_view.h"

namespace tf {

TF_ISA_DECLARE(void, add_layer_norm_cpu,
               (const float* x,         // [rows, cols]
                const float* x_bias,    // [cols] or nullptr
                const float* residual,  // [rows, cols] or nullptr
                const float* weight,    // [cols] or nullptr (= 1)
                const float* bias,      // [cols] or nullptr (= 0)
                float* out,             // [rows, cols]
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
  return {rows, cols};
}

// x is viewed as [-1, cols]; residual (same shape as x), x_bias, weight and bias are optional.
inline void add_layer_norm(const TensorView& x, const TensorView* residual, const TensorView* x_bias,
                           const TensorView* weight, const TensorView* bias, const TensorView& out,
                           double eps) {
  auto [rows, cols] = add_layer_norm_check(x, residual, x_bias, weight, bias, out, eps, DType::f32, true);
  auto p = [](const TensorView* t) { return t ? t->ptr<float>() : nullptr; };
  TF_ISA_CALL(add_layer_norm_cpu, x.ptr<float>(), p(x_bias), p(residual), p(weight), p(bias),
              out.ptr<float>(), rows, cols, static_cast<float>(eps));
}

// The CUDA kernel (layer_norm_cuda.cu): float32, float16 or bfloat16 (all tensors alike; fp32 statistics).
void add_layer_norm_cuda(const TensorView& x, const TensorView* residual, const TensorView* x_bias,
                         const TensorView* weight, const TensorView* bias, const TensorView& out, double eps,
                         void* stream);

}  // namespace tf
