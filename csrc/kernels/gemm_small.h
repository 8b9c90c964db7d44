// Small-row GEMM on a prepacked weight: out[M, N] = act(x[M, K] W^T + bias), M small (decode, short
// sequences). Such products stream the whole weight once per call and are bound by memory bandwidth;
// the weight is packed once into column panels so that the stream is one contiguous read.
#pragma once
#include <cstdint>

#include "common/cpu_features.h"
#include "common/tensor_view.h"

namespace tf {

// Output columns per panel: one 64-byte cache line per k on every ISA, so one packed layout serves all.
constexpr int64_t kGemmPanel = 16;

enum class GemmAct : int { none = 0, gelu_erf = 1, gelu_tanh = 2 };

inline int64_t gemm_panels(int64_t n) { return (n + kGemmPanel - 1) / kGemmPanel; }

TF_ISA_DECLARE(void, gemm_small_pack_cpu,
               (const float* w,   // [n, k], element (i, j) at w[i * stride_n + j * stride_k]
                int64_t stride_n, int64_t stride_k,
                float* packed,    // [panels, k, kGemmPanel], columns past n zero
                int64_t n, int64_t k))

TF_ISA_DECLARE(void, gemm_small_cpu,
               (const float* x,       // [m, k]
                const float* packed,  // [panels, k, kGemmPanel]
                const float* bias,    // [n] or nullptr
                float* out,           // [m, n]
                int64_t m, int64_t n, int64_t k, GemmAct act))

inline void check_packed(const TensorView& packed, int64_t n, int64_t k) {
  check_tensor(packed, "packed", DType::f32);
  TF_CHECK(packed.dim() == 3 && packed.size(0) == gemm_panels(n) && packed.size(1) == k &&
               packed.size(2) == kGemmPanel,
           "packed: expected shape [", gemm_panels(n), ", ", k, ", ", kGemmPanel, "]");
}

// packed = panels of w [n, k] (any strides: a transposed Conv1D weight packs without a copy);
// packed must have shape [ceil(n / 16), k, 16].
inline void gemm_small_pack(const TensorView& w, const TensorView& packed) {
  check_tensor(w, "weight", DType::f32, /*contiguous=*/false);
  TF_CHECK(w.dim() == 2, "weight: expected [out_features, in_features]");
  check_packed(packed, w.size(0), w.size(1));
  TF_ISA_CALL(gemm_small_pack_cpu, w.ptr<float>(), w.strides[0], w.strides[1], packed.ptr<float>(), w.size(0),
              w.size(1));
}

// out [m, n] = act(x [m, k] W^T + bias) with W given as its panels (gemm_small_pack).
inline void gemm_small(const TensorView& x, const TensorView& packed, const TensorView* bias,
                       const TensorView& out, int64_t n, GemmAct act) {
  check_tensor(x, "x", DType::f32);
  check_tensor(out, "out", DType::f32);
  TF_CHECK(x.dim() == 2, "x: expected [rows, in_features]");
  TF_CHECK(n >= 0, "out_features: must be >= 0");
  int64_t m = x.size(0), k = x.size(1);
  check_packed(packed, n, k);
  TF_CHECK(out.dim() == 2 && out.size(0) == m && out.size(1) == n, "out: expected shape [", m, ", ", n, "]");
  if (bias) {
    check_tensor(*bias, "bias", DType::f32);
    TF_CHECK(bias->dim() == 1 && bias->size(0) == n, "bias: expected shape [", n, "]");
  }
  TF_CHECK(static_cast<int>(act) >= 0 && static_cast<int>(act) <= 2, "activation: unknown code");
  TF_ISA_CALL(gemm_small_cpu, x.ptr<float>(), packed.ptr<float>(), bias ? bias->ptr<float>() : nullptr,
              out.ptr<float>(), m, n, k, act);
}

}  // namespace tf
