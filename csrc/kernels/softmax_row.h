// Row softmax shared by the masked_softmax and attention kernels (included by *_cpu.cpp only).
#pragma once
#include <cmath>
#include <cstdint>

#include "common/vec.h"

namespace tf {
namespace TF_ISA_NS {

// out[j] = softmax_j(in[j] * scale + mask[j]) for j < n_valid, 0 for n_valid <= j < n_total, computed in the
// fp32 row `work` (which may be `out` for float32, and may alias in); in, mask and out are float or bf16 (mask
// may be nullptr). Same operation order as torch's CPU softmax (max, exp(x - max), multiply by 1/sum), so
// -inf-only rows give NaN exactly as torch.softmax; with kInfRowsZero they give zeros instead, as torch's
// scaled_dot_product_attention. Without kNormalize, work holds exp(x - max), out is not written and the caller
// multiplies by the returned 1/sum (attention applies it to the D outputs instead of the n probabilities).
template <bool kInfRowsZero = false, bool kNormalize = true, typename TIn, typename TMask, typename TOut>
inline float softmax_row_to(const TIn* in, float* work, int64_t n_valid, int64_t n_total, float scale,
                            const TMask* mask, TOut* out) {
  using vec::VecF;
  using vec::to_float;
  constexpr int W = VecF::size;
  VecF s(scale), vmax(-INFINITY);
  float smax = -INFINITY;
  int64_t j = 0;
  for (; j + W <= n_valid; j += W) {
    VecF v = vec::load(in + j) * s;
    if (mask) v = v + vec::load(mask + j);
    v.store(work + j);
    vmax = VecF::max(vmax, v);
  }
  for (; j < n_valid; ++j) {
    float v = to_float(in[j]) * scale;
    if (mask) v += to_float(mask[j]);
    work[j] = v;
    smax = (v > smax || v != v) ? v : smax;
  }
  float m = vmax.reduce_max();
  m = (smax > m || smax != smax) ? smax : m;
  if (kInfRowsZero && m == -INFINITY) n_valid = 0;
  VecF vm(m), vsum(0.0f);
  float ssum = 0.0f;
  for (j = 0; j + W <= n_valid; j += W) {
    VecF e = vec::exp_nonpositive(VecF::load(work + j) - vm);
    e.store(work + j);
    vsum = vsum + e;
  }
  for (; j < n_valid; ++j) {
    float e = std::exp(work[j] - m);
    work[j] = e;
    ssum += e;
  }
  float inv = 1.0f / (vsum.reduce_add() + ssum);
  if (kNormalize) {
    VecF vinv(inv);
    for (j = 0; j + W <= n_valid; j += W) vec::store(VecF::load(work + j) * vinv, out + j);
    for (; j < n_valid; ++j) out[j] = vec::from_float<TOut>(work[j] * inv);
    for (j = n_valid < 0 ? 0 : n_valid; j < n_total; ++j) out[j] = vec::from_float<TOut>(0.0f);
  } else {
    for (j = n_valid < 0 ? 0 : n_valid; j < n_total; ++j) work[j] = 0.0f;
  }
  return n_valid > 0 ? inv : 0.0f;
}

// softmax_row_to with the fp32 result in place of the work row (out may alias in).
template <bool kInfRowsZero = false, bool kNormalize = true, typename TIn, typename TMask>
inline float softmax_row(const TIn* in, float* out, int64_t n_valid, int64_t n_total, float scale,
                         const TMask* mask) {
  return softmax_row_to<kInfRowsZero, kNormalize>(in, out, n_valid, n_total, scale, mask, out);
}

}  // namespace TF_ISA_NS
}  // namespace tf
