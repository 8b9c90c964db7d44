// GELU and bias+GELU (erf form for BERT/RoBERTa/DistilBERT/XLM, tanh form for GPT/GPT-2/XLNet).
#pragma once
#include <cstdint>

#include "common/cpu_features.h"
#include "common/tensor_view.h"

namespace tf {

enum class GeluKind : int { erf = 0, tanh = 1 };

// float32 or bfloat16 (`dtype`, all three alike; fp32 arithmetic).
TF_ISA_DECLARE(void, gelu_cpu,
               (DType dtype,
                const void* x,       // [rows, cols]
                const void* bias,    // [cols] or nullptr
                void* out,           // [rows, cols], may alias x
                int64_t rows, int64_t cols, GeluKind kind))

struct RowsCols {
  int64_t rows = 0, cols = 0;
};

// The checks of every device's front; x is viewed as [-1, cols].
inline RowsCols gelu_check(const TensorView& x, const TensorView* bias, const TensorView& out, DType dtype,
                           bool on_cpu) {
  check_tensor_on(x, "x", dtype, on_cpu);
  check_tensor_on(out, "out", dtype, on_cpu);
  check_same_shape(x, "x", out, "out");
  RowsCols rc;
  rc.cols = x.dim() == 0 ? 1 : x.size(-1);
  rc.rows = rc.cols == 0 ? 0 : x.numel() / rc.cols;
  if (bias) {
    check_tensor_on(*bias, "bias", dtype, on_cpu);
    TF_CHECK(x.dim() >= 1, "x: bias needs at least one dimension");
    TF_CHECK(bias->dim() == 1 && bias->size(0) == rc.cols, "bias: expected shape [", rc.cols, "]");
  }
  check_no_overlap(out, "out", &x, "x", /*same_ok=*/true);
  check_no_overlap(out, "out", bias, "bias");
  return rc;
}

// out = gelu(x + bias); bias may be empty (no bias). x is viewed as [-1, cols]; float32 or bfloat16, all alike.
inline void gelu(const TensorView& x, const TensorView* bias, const TensorView& out, GeluKind kind) {
  check_cpu_dtype(x, "x");
  RowsCols rc = gelu_check(x, bias, out, x.dtype, /*on_cpu=*/true);
  TF_ISA_CALL(gelu_cpu, x.dtype, x.data, bias ? bias->data : nullptr, out.data, rc.rows, rc.cols, kind);
}

// The CUDA kernel (gelu_cuda.cu): float32, float16 or bfloat16 (all tensors alike), on `stream`.
void gelu_cuda(const TensorView& x, const TensorView* bias, const TensorView& out, GeluKind kind, void* stream);

}  // namespace tf
