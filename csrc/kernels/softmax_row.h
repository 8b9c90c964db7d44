// Row softmax shared by the masked_softmax and attention kernels (included by *_cpu.cpp only).
#pragma once
#include <cmath>
#include <cstdint>

#include "common/vec.h"

namespace tf {
namespace TF_ISA_NS {

// out[j] = softmax_j(in[j] * scale + mask[j]) for j < n_valid, 0 for n_valid <= j < n_total.
// in may alias out; mask may be nullptr. Same operation order as torch's CPU softmax
// (max, exp(x - max), multiply by 1/sum), so -inf-only rows give NaN exactly as torch.softmax;
// with kInfRowsZero they give zeros instead, as torch's scaled_dot_product_attention.
// Without kNormalize, out holds exp(x - max) and the caller multiplies by the returned 1/sum
// (attention applies it to the D outputs instead of the n probabilities).
template <bool kInfRowsZero = false, bool kNormalize = true>
inline float softmax_row(const float* in, float* out, int64_t n_valid, int64_t n_total, float scale,
                        const float* mask) {
  using vec::VecF;
  constexpr int W = VecF::size;
  VecF s(scale), vmax(-INFINITY);
  float smax = -INFINITY;
  int64_t j = 0;
  for (; j + W <= n_valid; j += W) {
    VecF v = VecF::load(in + j) * s;
    if (mask) v = v + VecF::load(mask + j);
    v.store(out + j);
    vmax = VecF::max(vmax, v);
  }
  for (; j < n_valid; ++j) {
    float v = in[j] * scale;
    if (mask) v += mask[j];
    out[j] = v;
    smax = (v > smax || v != v) ? v : smax;
  }
  float m = vmax.reduce_max();
  m = (smax > m || smax != smax) ? smax : m;
  if (kInfRowsZero && m == -INFINITY) n_valid = 0;
  VecF vm(m), vsum(0.0f);
  float ssum = 0.0f;
  for (j = 0; j + W <= n_valid; j += W) {
    VecF e = vec::exp_nonpositive(VecF::load(out + j) - vm);
    e.store(out + j);
    vsum = vsum + e;
  }
  for (; j < n_valid; ++j) {
    float e = std::exp(out[j] - m);
    out[j] = e;
    ssum += e;
  }
  float inv = 1.0f / (vsum.reduce_add() + ssum);
  if (kNormalize) {
    VecF vinv(inv);
    for (j = 0; j + W <= n_valid; j += W) (VecF::load(out + j) * vinv).store(out + j);
    for (; j < n_valid; ++j) out[j] *= inv;
  }
  for (j = n_valid < 0 ? 0 : n_valid; j < n_total; ++j) out[j] = 0.0f;
  return n_valid > 0 ? inv : 0.0f;
}

}  // namespace TF_ISA_NS
}  // namespace tf
