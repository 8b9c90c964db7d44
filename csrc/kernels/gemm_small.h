// Small-row GEMM on a prepacked weight: out[M, N] = act(x[M, K] W^T + bias), M small (decode, short
// sequences). Such products stream the whole weight once per call and are bound by memory bandwidth;
// the weight is packed once into column panels so that the stream is one contiguous read.
#pragma once
#include <cstdint>
#include <cstring>

#include "common/cpu_features.h"
#include "common/tensor_view.h"
#include "kernels/activation.h"

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

// bfloat16 (raw uint16 bits): the weight packed as pairs of k per column, so that one 64-byte line holds
// 16 columns x 2 k and the AVX-512-bf16 dot product (two products per fp32 lane) reads it as it is; the
// stream is half the float32 one. fp32 accumulation, bias and GELU in fp32, the output rounded to nearest even.
TF_ISA_DECLARE(void, gemm_small_pack_bf16_cpu,
               (const uint16_t* w,   // [n, k], element (i, j) at w[i * stride_n + j * stride_k]
                int64_t stride_n, int64_t stride_k,
                uint16_t* packed,    // [panels, ceil(k / 2), kGemmPanel * 2], padding zero
                int64_t n, int64_t k))

TF_ISA_DECLARE(void, gemm_small_bf16_cpu,
               (const uint16_t* x,       // [m, k]
                const uint16_t* packed,  // [panels, ceil(k / 2), kGemmPanel * 2]
                const uint16_t* bias,    // [n] or nullptr
                uint16_t* out,           // [m, n]
                int64_t m, int64_t n, int64_t k, GemmAct act))

// The packed shape for a weight [n, k] of `dtype`: float32 [panels, k, 16], bfloat16 [panels, ceil(k/2), 32].
inline void check_packed(const TensorView& packed, DType dtype, int64_t n, int64_t k) {
  check_tensor(packed, "packed", dtype);
  const bool bf16 = dtype == DType::bf16;
  const int64_t depth = bf16 ? (k + 1) / 2 : k, width = bf16 ? 2 * kGemmPanel : kGemmPanel;
  TF_CHECK(packed.dim() == 3 && packed.size(0) == gemm_panels(n) && packed.size(1) == depth &&
               packed.size(2) == width,
           "packed: expected shape [", gemm_panels(n), ", ", depth, ", ", width, "]");
}

inline void check_gemm_dtype(const TensorView& t, const char* name) {
  TF_CHECK(t.dtype == DType::f32 || t.dtype == DType::bf16, name, ": expected float32 or bfloat16, got ",
           dtype_name(t.dtype));
}

// packed = panels of w [n, k] (any strides: a transposed Conv1D weight packs without a copy), of w's dtype
// (float32 or bfloat16) and the shape check_packed names.
inline void gemm_small_pack(const TensorView& w, const TensorView& packed) {
  check_gemm_dtype(w, "weight");
  check_tensor(w, "weight", w.dtype, /*contiguous=*/false);
  TF_CHECK(w.dim() == 2, "weight: expected [out_features, in_features]");
  check_packed(packed, w.dtype, w.size(0), w.size(1));
  check_no_overlap(packed, "packed", &w, "weight");
  if (w.dtype == DType::bf16)
    TF_ISA_CALL(gemm_small_pack_bf16_cpu, w.ptr<uint16_t>(), w.strides[0], w.strides[1], packed.ptr<uint16_t>(),
                w.size(0), w.size(1));
  else
    TF_ISA_CALL(gemm_small_pack_cpu, w.ptr<float>(), w.strides[0], w.strides[1], packed.ptr<float>(), w.size(0),
                w.size(1));
}

// k == 0, where the kernels' k loop writes nothing: every sum is empty, so out = act(bias), or act(0) = 0.
inline void gemm_empty_sum(const TensorView* bias, const TensorView& out, int64_t m, int64_t n, GemmAct act) {
  const int64_t row_bytes = n * dtype_size(out.dtype);
  for (int64_t i = 0; i < m; ++i) {
    char* row = static_cast<char*>(out.data) + i * row_bytes;
    if (bias) std::memcpy(row, bias->data, static_cast<size_t>(row_bytes));
    else std::memset(row, 0, static_cast<size_t>(row_bytes));  // (0.0f and bfloat16 0 are all-zero bits)
  }
  if (bias && act != GemmAct::none && m * n > 0)
    TF_ISA_CALL(gelu_cpu, out.dtype, out.data, nullptr, out.data, m, n,
                act == GemmAct::gelu_tanh ? GeluKind::tanh : GeluKind::erf);
}

// out [m, n] = act(x [m, k] W^T + bias) with W given as its panels (gemm_small_pack); every tensor of x's
// dtype (float32 or bfloat16).
inline void gemm_small(const TensorView& x, const TensorView& packed, const TensorView* bias,
                       const TensorView& out, int64_t n, GemmAct act) {
  check_gemm_dtype(x, "x");
  const DType dtype = x.dtype;
  check_tensor(x, "x", dtype);
  check_tensor(out, "out", dtype);
  TF_CHECK(x.dim() == 2, "x: expected [rows, in_features]");
  TF_CHECK(n >= 0, "out_features: must be >= 0");
  int64_t m = x.size(0), k = x.size(1);
  // (out first: it bounds n, which gemm_panels(n) would overflow for a huge one)
  TF_CHECK(out.dim() == 2 && out.size(0) == m && out.size(1) == n, "out: expected shape [", m, ", ", n, "]");
  check_packed(packed, dtype, n, k);
  if (bias) {
    check_tensor(*bias, "bias", dtype);
    TF_CHECK(bias->dim() == 1 && bias->size(0) == n, "bias: expected shape [", n, "]");
  }
  check_no_overlap(out, "out", &x, "x");
  check_no_overlap(out, "out", &packed, "packed");
  check_no_overlap(out, "out", bias, "bias");
  TF_CHECK(static_cast<int>(act) >= 0 && static_cast<int>(act) <= 2, "activation: unknown code");
  if (k == 0) return gemm_empty_sum(bias, out, m, n, act);
  if (dtype == DType::bf16)
    TF_ISA_CALL(gemm_small_bf16_cpu, x.ptr<uint16_t>(), packed.ptr<uint16_t>(),
                bias ? bias->ptr<uint16_t>() : nullptr, out.ptr<uint16_t>(), m, n, k, act);
  else
    TF_ISA_CALL(gemm_small_cpu, x.ptr<float>(), packed.ptr<float>(), bias ? bias->ptr<float>() : nullptr,
                out.ptr<float>(), m, n, k, act);
}

}  // namespace tf
