// GELU and bias+GELU (erf form for BERT/RoBERTa/DistilBERT/XLM, tanh form for GPT/GPT-2/XLNet).
#pragma once
#include <cstdint>

#include "common/cpu_features.h"
#include "common/tensor_view.h"

namespace tf {

enum class GeluKind : int { erf = 0, tanh = 1 };

TF_ISA_DECLARE(void, gelu_cpu,
               (const float* x,      // [rows, cols]
                const float* bias,   // [cols] or nullptr
                float* out,          // [rows, cols], may alias x
                int64_t rows, int64_t cols, GeluKind kind))

// out = gelu(x + bias); bias may be empty (no bias). x is viewed as [-1, cols].
inline void gelu(const TensorView& x, const TensorView* bias, const TensorView& out, GeluKind kind) {
  check_tensor(x, "x", DType::f32);
  check_tensor(out, "out", DType::f32);
  check_same_shape(x, "x", out, "out");
  int64_t cols = x.dim() == 0 ? 1 : x.size(-1);
  int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  if (bias) {
    check_tensor(*bias, "bias", DType::f32);
    TF_CHECK(x.dim() >= 1, "x: bias needs at least one dimension");
    TF_CHECK(bias->dim() == 1 && bias->size(0) == cols, "bias: expected shape [", cols, "]");
  }
  TF_ISA_CALL(gelu_cpu, x.ptr<float>(), bias ? bias->ptr<float>() : nullptr, out.ptr<float>(), rows,
              cols, kind);
}

}  // namespace tf
