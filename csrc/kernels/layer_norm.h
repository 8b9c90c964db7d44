// LayerNorm, optionally fused with the residual add before it: out = LN(x + x_bias + residual).
#pragma once
#include <cstdint>

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

inline void check_row_vector(const TensorView* t, const char* name, int64_t cols) {
  if (!t) return;
  check_tensor(*t, name, DType::f32);
  TF_CHECK(t->dim() == 1 && t->size(0) == cols, name, ": expected shape [", cols, "]");
}

// x is viewed as [-1, cols]; residual (same shape as x), x_bias, weight and bias are optional.
inline void add_layer_norm(const TensorView& x, const TensorView* residual, const TensorView* x_bias,
                           const TensorView* weight, const TensorView* bias, const TensorView& out,
                           double eps) {
  check_tensor(x, "x", DType::f32);
  check_tensor(out, "out", DType::f32);
  check_same_shape(x, "x", out, "out");
  TF_CHECK(x.dim() >= 1, "x: needs at least one dimension");
  TF_CHECK(eps >= 0, "eps: must be >= 0");
  int64_t cols = x.size(-1);
  int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  if (residual) {
    check_tensor(*residual, "residual", DType::f32);
    check_same_shape(x, "x", *residual, "residual");
  }
  check_row_vector(x_bias, "x_bias", cols);
  check_row_vector(weight, "weight", cols);
  check_row_vector(bias, "bias", cols);
  auto p = [](const TensorView* t) { return t ? t->ptr<float>() : nullptr; };
  TF_ISA_CALL(add_layer_norm_cpu, x.ptr<float>(), p(x_bias), p(residual), p(weight), p(bias),
              out.ptr<float>(), rows, cols, static_cast<float>(eps));
}

}  // namespace tf
