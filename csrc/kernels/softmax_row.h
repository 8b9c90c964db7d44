// Row softmax shared by the masked_softmax and attention kernels (included by *_cpu.cpp only).
#pragma once
#include <cmath>
#include <cstdint>

#include "common/vec.h"

namespace tf {
namespace TF_ISA_NS {

// out[j] = softmax_j(in[j] * scale + mask[j]) for j < n_valid, 0 for n_valid <= j < n_total.
// in may alias out; mask may be nullptr. Same operation order as torch's CPU softmax
// (max, exp(x - max), multiply by 1/sum), so -inf-only rows give NaN exactly as torch.
inline void softmax_row(const float* in, float* out, int64_t n_valid, int64_t n_total, float scale,
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
    smax = v > smax ? v : smax;
  }
  float m = vmax.reduce_max();
  m = smax > m ? smax : m;
  VecF vm(m), vsum(0.0f);
  float ssum = 0.0f;
  for (j = 0; j + W <= n_valid; j += W) {
    VecF e = vec::exp(VecF::load(out + j) - vm);
    e.store(out + j);
    vsum = vsum + e;
  }
  for (; j < n_valid; ++j) {
    float e = std::exp(out[j] - m);
    out[j] = e;
    ssum += e;
  }
  float inv = 1.0f / (vsum.reduce_add() + ssum);
  VecF vinv(inv);
  for (j = 0; j + W <= n_valid; j += W) (VecF::load(out + j) * vinv).store(out + j);
  for (; j < n_valid; ++j) out[j] *= inv;
  for (j = n_valid < 0 ? 0 : n_valid; j < n_total; ++j) out[j] = 0.0f;
}

}  // namespace TF_ISA_NS
}  // namespace tf
