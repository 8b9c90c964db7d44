// int8 GEMM with dynamic per-token activation quantization:
//   out[m, n] = act( float(sum_k (xq[m, k] - zero[m]) * wq[n, k]) * (sx[m] * sw[n]) + bias[n] )
// wq [n, k] int8, quantized symmetrically per output channel (scale sw[n], values in [-127, 127]), packed once;
// xq the activations x [m, k] fp32 quantized per row (token) at every call, asymmetrically to u8:
//   lo = min(x[m, :], 0), hi = max(x[m, :], 0), sx = (hi - lo) / 255, inv = 255 / (hi - lo),
//   zero = round(-lo * inv), xq = clamp(round(x * inv) + zero, 0, 255)   (round: half to even).
// Sums are exact in int32, so the result does not depend on the ISA, the thread count or the blocking: only
// the fp32 epilogue rounds (and GELU, which runs the same vector code as the other kernels). Rows with a NaN or
// infinite value give NaN outputs.
//
// Why u8 activations with a zero point (not s8 from the absmax): vpdpbusd (AVX-512 VNNI) multiplies unsigned by
// signed bytes, so u8 activations against s8 weights are one instruction per 4 k with no sign fix-up in the inner
// loop; the zero point adds zero * sum_k wq[n, k] to every sum, a per-column sum computed once when the weight is
// packed (colsum), taken off in the epilogue (one multiply-subtract per 16 outputs). A symmetric absmax scale with
// a fixed +128 offset costs the same but wastes range on skewed rows: BERT's hidden states have a few large
// channels of one sign per token, and with it MiniLM's int8 sentence embeddings reached cosine 0.992 to fp32 where
// this range-based scale gives 0.996.
// AVX2 has no byte dot product that is exact here: vpmaddubsw saturates its int16 pair sums (255 * 127 * 2 >
// 32767). The AVX2 path widens both operands to int16 and uses vpmaddwd (exact int32 pair sums), keeping
// 8-bit activations, so its results are bit-identical to the VNNI path's; it also serves AVX-512 CPUs
// without VNNI. The portable path runs the same integer sums in scalar code.
#pragma once
#include <atomic>
#include <cstdint>

#include "common/cpu_features.h"
#include "common/tensor_view.h"
#include "kernels/gemm_small.h"  // GemmAct

namespace tf {

// Output columns per panel, k per group: a packed group is 16 columns x 4 k = 64 bytes, one zmm.
constexpr int64_t kInt8Panel = 16;
constexpr int64_t kInt8Group = 4;
// |sum| <= 255 * 128 * k must fit int32 (u8 activations are at most 255, and an int8 weight given directly may be
// -128), as must zero * colsum.
constexpr int64_t kInt8MaxK = 2147483647LL / (255 * 128);

inline int64_t int8_panels(int64_t n) { return (n + kInt8Panel - 1) / kInt8Panel; }
inline int64_t int8_groups(int64_t k) { return (k + kInt8Group - 1) / kInt8Group; }

inline std::atomic<bool>& gemm_int8_vnni_allowed() {
  static std::atomic<bool> allowed{true};
  return allowed;
}
// Tests and benchmarks: false keeps AVX-512 machines with VNNI on the vpmaddwd kernel.
inline void gemm_int8_allow_vnni(bool on) { gemm_int8_vnni_allowed().store(on); }

inline std::atomic<bool>& gemm_int8_amx_allowed() {
  static std::atomic<bool> allowed{true};
  return allowed;
}
// Tests and benchmarks: false keeps AMX machines on the VNNI kernel.
inline void gemm_int8_allow_amx(bool on) { gemm_int8_amx_allowed().store(on); }
inline std::atomic<bool>& gemm_int8_amx_emulation() {
  static std::atomic<bool> on{false};
  return on;
}
// Tests: true runs the AMX kernel's logic on its scalar tile emulation, on any CPU (slow).
inline void gemm_int8_emulate_amx(bool on) { gemm_int8_amx_emulation().store(on); }

// The AVX-512 build's AMX kernel against its VNNI kernel, bit for bit, on a random problem (false where the build
// has no AMX kernel). Run once, where the CPU has AMX-INT8, before the tiles are first used.
TF_ISA_DECLARE(bool, gemm_int8_amx_self_check, ())

// AMX-INT8 usable here: the CPU, the OS and this process's permission (cpu_has_amx_int8), and the kernel agreed
// with the VNNI one, first in a child process (a fault there leaves VNNI in use), then here.
inline bool gemm_int8_amx_ready() {
#if defined(TF_X86_64)
  static const bool ready = cpu_has_amx_int8() && passes_in_child_process(&isa_avx512::gemm_int8_amx_self_check) &&
                            isa_avx512::gemm_int8_amx_self_check();
  return ready;
#else
  return false;
#endif
}

// Which inner kernel gemm_int8 runs now: 0 portable, 1 AVX2 (int16 vpmaddwd; also AVX-512 without VNNI),
// 2 AVX-512 VNNI (vpdpbusd), 3 AMX-INT8 tiles, 4 their emulation (tests). 3 and 4 serve in_features that are a
// multiple of 64; other layers run the best of 0-2.
inline int gemm_int8_kernel() {
  const Isa isa = cpu_isa();
  if (gemm_int8_amx_emulation().load()) return 4;
  if (isa == Isa::avx512 && gemm_int8_amx_allowed().load() && gemm_int8_amx_ready()) return 3;
  if (isa == Isa::avx512 && cpu_has_avx512_vnni() && gemm_int8_vnni_allowed().load()) return 2;
  return isa == Isa::generic ? 0 : 1;
}
inline const char* gemm_int8_kernel_name(int kernel) {
  return kernel == 4   ? "amx_int8_emulated"
         : kernel == 3 ? "amx_int8"
         : kernel == 2 ? "avx512_vnni"
         : kernel == 1 ? "avx2_vpmaddwd"
                       : "generic";
}

TF_ISA_DECLARE(void, gemm_int8_pack_cpu,
               (const int8_t* w,   // [n, k], element (i, j) at w[i * stride_n + j * stride_k]
                int64_t stride_n, int64_t stride_k,
                int8_t* packed,    // [panels, groups, 16 * 4]: column c, k = 4 g + t at [p][g][4 c + t], 0 past n, k
                int32_t* colsum,   // [panels * 16]: sum_k w[n, k] (0 past n)
                int64_t n, int64_t k))

TF_ISA_DECLARE(void, gemm_int8_cpu,
               (const float* x,         // [m, k]
                const int8_t* packed,   // [panels, groups, 64]
                const int32_t* colsum,  // [panels * 16]
                const float* w_scale,   // [n]
                const float* bias,      // [n] or nullptr
                float* out,             // [m, n]
                int64_t m, int64_t n, int64_t k, GemmAct act, int kernel))

inline void check_int8_packed(const TensorView& packed, const TensorView& colsum, int64_t n, int64_t k) {
  check_tensor(packed, "packed", DType::i8);
  TF_CHECK(packed.dim() == 3 && packed.size(0) == int8_panels(n) && packed.size(1) == int8_groups(k) &&
               packed.size(2) == kInt8Panel * kInt8Group,
           "packed: expected shape [", int8_panels(n), ", ", int8_groups(k), ", ", kInt8Panel * kInt8Group, "]");
  check_tensor(colsum, "colsum", DType::i32);
  TF_CHECK(colsum.dim() == 1 && colsum.size(0) == int8_panels(n) * kInt8Panel, "colsum: expected shape [",
           int8_panels(n) * kInt8Panel, "]");
}

// packed, colsum = the VNNI panels of w [n, k] int8 (any strides) and its per-column sums.
inline void gemm_int8_pack(const TensorView& w, const TensorView& packed, const TensorView& colsum) {
  check_tensor(w, "weight", DType::i8, /*contiguous=*/false);
  TF_CHECK(w.dim() == 2, "weight: expected [out_features, in_features]");
  TF_CHECK(w.size(1) <= kInt8MaxK, "weight: at most ", kInt8MaxK, " in_features (int32 sums), got ", w.size(1));
  check_int8_packed(packed, colsum, w.size(0), w.size(1));
  check_no_overlap(packed, "packed", &w, "weight");
  check_no_overlap(colsum, "colsum", &w, "weight");
  check_no_overlap(colsum, "colsum", &packed, "packed");
  TF_ISA_CALL(gemm_int8_pack_cpu, w.ptr<int8_t>(), w.strides[0], w.strides[1], packed.ptr<int8_t>(),
              colsum.ptr<int32_t>(), w.size(0), w.size(1));
}

// out [m, n] = act(dequant(quant(x [m, k]) . Wq^T) + bias), Wq given as (packed, colsum) and its scales.
inline void gemm_int8(const TensorView& x, const TensorView& packed, const TensorView& colsum,
                      const TensorView& w_scale, const TensorView* bias, const TensorView& out, int64_t n,
                      GemmAct act) {
  check_tensor(x, "x", DType::f32);
  check_tensor(out, "out", DType::f32);
  TF_CHECK(x.dim() == 2, "x: expected [rows, in_features]");
  TF_CHECK(n >= 0, "out_features: must be >= 0");
  const int64_t m = x.size(0), k = x.size(1);
  TF_CHECK(k <= kInt8MaxK, "x: at most ", kInt8MaxK, " in_features (int32 sums), got ", k);
  // (out first: it bounds n, which int8_panels(n) would overflow for a huge one)
  TF_CHECK(out.dim() == 2 && out.size(0) == m && out.size(1) == n, "out: expected shape [", m, ", ", n, "]");
  check_int8_packed(packed, colsum, n, k);
  check_tensor(w_scale, "weight_scale", DType::f32);
  TF_CHECK(w_scale.dim() == 1 && w_scale.size(0) == n, "weight_scale: expected shape [", n, "]");
  if (bias) {
    check_tensor(*bias, "bias", DType::f32);
    TF_CHECK(bias->dim() == 1 && bias->size(0) == n, "bias: expected shape [", n, "]");
  }
  for (auto [t, name] : {std::pair{&x, "x"}, {&packed, "packed"}, {&colsum, "colsum"}, {&w_scale, "weight_scale"},
                         {bias, "bias"}})
    check_no_overlap(out, "out", t, name);
  TF_CHECK(static_cast<int>(act) >= 0 && static_cast<int>(act) <= 2, "activation: unknown code");
  TF_ISA_CALL(gemm_int8_cpu, x.ptr<float>(), packed.ptr<int8_t>(), colsum.ptr<int32_t>(), w_scale.ptr<float>(),
              bias ? bias->ptr<float>() : nullptr, out.ptr<float>(), m, n, k, act, gemm_int8_kernel());
}

}  // namespace tf
