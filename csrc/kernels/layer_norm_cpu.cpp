#include <algorithm>
#include <cmath>

#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/layer_norm.h"

namespace tf {
namespace TF_ISA_NS {

using vec::VecF;

namespace {

constexpr int W = VecF::size;

struct RowMoments {
  float shifted_sum, shifted_sq;  // sums of (v - shift) and (v - shift)^2
};

// One pass over a row: the sums of (v - shift) and (v - shift)^2 with shift = the row's first value,
// which keeps the cancellation in sq - sum^2 / n small unless that value is far from the mean (the
// caller checks and then takes the exact second pass). Fixed order per row: thread-count independent.
// When kAdd, the row is first formed as x + x_bias + residual (torch's order) and stored in out.
template <bool kAdd, bool kXBias, bool kRes>
inline RowMoments row_moments(const float* x, const float* x_bias, const float* residual, float* out, int64_t n,
                              float& shift) {
  auto value = [&](int64_t c) {
    VecF v = VecF::load(x + c);
    if (kXBias) v = v + VecF::load(x_bias + c);
    if (kRes) v = v + VecF::load(residual + c);
    if (kAdd) v.store(out + c);
    return v;
  };
  float first = x[0];
  if (kXBias) first += x_bias[0];
  if (kRes) first += residual[0];
  shift = first;
  VecF k(first), s0(0.0f), s1(0.0f), q0(0.0f), q1(0.0f), s2(0.0f), s3(0.0f), q2(0.0f), q3(0.0f);
  int64_t c = 0;
  // Four independent chains: the adds and FMAs wait on latency, not throughput, with fewer.
  for (; c + 4 * W <= n; c += 4 * W) {
    VecF d0 = value(c) - k, d1 = value(c + W) - k, d2 = value(c + 2 * W) - k, d3 = value(c + 3 * W) - k;
    s0 = s0 + d0;
    s1 = s1 + d1;
    s2 = s2 + d2;
    s3 = s3 + d3;
    q0 = VecF::fmadd(d0, d0, q0);
    q1 = VecF::fmadd(d1, d1, q1);
    q2 = VecF::fmadd(d2, d2, q2);
    q3 = VecF::fmadd(d3, d3, q3);
  }
  s0 = s0 + s2;
  s1 = s1 + s3;
  q0 = q0 + q2;
  q1 = q1 + q3;
  for (; c + 2 * W <= n; c += 2 * W) {
    VecF d0 = value(c) - k, d1 = value(c + W) - k;
    s0 = s0 + d0;
    s1 = s1 + d1;
    q0 = VecF::fmadd(d0, d0, q0);
    q1 = VecF::fmadd(d1, d1, q1);
  }
  for (; c + W <= n; c += W) {
    VecF d = value(c) - k;
    s0 = s0 + d;
    q0 = VecF::fmadd(d, d, q0);
  }
  float ts = 0.0f, tq = 0.0f;
  for (; c < n; ++c) {
    float v = x[c];
    if (kXBias) v += x_bias[c];
    if (kRes) v += residual[c];
    if (kAdd) out[c] = v;
    float d = v - first;
    ts += d;
    tq += d * d;
  }
  return {(s0 + s1).reduce_add() + ts, (q0 + q1).reduce_add() + tq};
}

inline float sum(const float* v, int64_t n) {
  VecF a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
  int64_t c = 0;
  for (; c + 4 * W <= n; c += 4 * W) {
    a0 = a0 + VecF::load(v + c);
    a1 = a1 + VecF::load(v + c + W);
    a2 = a2 + VecF::load(v + c + 2 * W);
    a3 = a3 + VecF::load(v + c + 3 * W);
  }
  for (; c + W <= n; c += W) a0 = a0 + VecF::load(v + c);
  float tail = 0.0f;
  for (; c < n; ++c) tail += v[c];
  return ((a0 + a1) + (a2 + a3)).reduce_add() + tail;
}

// Sums of (v - shift) and (v - shift)^2 over a row already formed (in L1).
inline RowMoments moments_about(const float* v, int64_t n, float shift) {
  VecF m(shift), s0(0.0f), s1(0.0f), q0(0.0f), q1(0.0f);
  int64_t c = 0;
  for (; c + 2 * W <= n; c += 2 * W) {
    VecF d0 = VecF::load(v + c) - m, d1 = VecF::load(v + c + W) - m;
    s0 = s0 + d0;
    s1 = s1 + d1;
    q0 = VecF::fmadd(d0, d0, q0);
    q1 = VecF::fmadd(d1, d1, q1);
  }
  for (; c + W <= n; c += W) {
    VecF d = VecF::load(v + c) - m;
    s0 = s0 + d;
    q0 = VecF::fmadd(d, d, q0);
  }
  float ts = 0.0f, tq = 0.0f;
  for (; c < n; ++c) {
    float d = v[c] - shift;
    ts += d;
    tq += d * d;
  }
  return {(s0 + s1).reduce_add() + ts, (q0 + q1).reduce_add() + tq};
}

template <bool kW, bool kB>
inline void normalize(const float* v, const float* weight, const float* bias, float* out, int64_t n, float mean,
                      float rstd) {
  VecF m(mean), r(rstd);
  auto one = [&](int64_t c, int k) {
    VecF y = (VecF::load(v + c, k) - m) * r;
    if (kW) y = y * VecF::load(weight + c, k);
    if (kB) y = y + VecF::load(bias + c, k);
    y.store(out + c, k);
  };
  int64_t c = 0;
  for (; c + W <= n; c += W) {
    VecF y = (VecF::load(v + c) - m) * r;
    if (kW) y = y * VecF::load(weight + c);
    if (kB) y = y + VecF::load(bias + c);
    y.store(out + c);
  }
  if (c < n) one(c, static_cast<int>(n - c));
}

template <bool kXBias, bool kRes, bool kW, bool kB>
void rows_kernel(const float* x, const float* x_bias, const float* residual, const float* weight, const float* bias,
                 float* out, int64_t r0, int64_t r1, int64_t cols, float eps) {
  constexpr bool kAdd = kXBias || kRes;
  for (int64_t r = r0; r < r1; ++r) {
    float* o = out + r * cols;
    const float* xr = x + r * cols;
    float shift;
    RowMoments mo = row_moments<kAdd, kXBias, kRes>(xr, x_bias, kRes ? residual + r * cols : nullptr, o, cols, shift);
    const float* v = kAdd ? o : xr;  // the summed row stays in out (in L1) for the passes that follow
    float n = static_cast<float>(cols), mean, m2;
    auto finish = [&](RowMoments m, float about) {  // returns sum^2 / n, what m2 cancels against
      float sum_sq_mean = m.shifted_sum * m.shifted_sum / n;
      mean = about + m.shifted_sum / n;
      m2 = m.shifted_sq - sum_sq_mean;
      return sum_sq_mean;
    };
    float sum_sq_mean = finish(mo, shift);
    // Shifted sums lose about log10(sum_sq_mean / m2) digits. Past 16 (the first value more than ~4
    // standard deviations from the mean) the sums again about the plain mean: the corrected two-pass
    // algorithm. A constant row (every deviation 0) is exact as it is.
    if (mo.shifted_sq != 0.0f && !(m2 > 0.0f && sum_sq_mean <= 16.0f * m2)) {
      float approx_mean = sum(v, cols) / n;
      finish(moments_about(v, cols, approx_mean), approx_mean);
    }
    m2 = std::max(m2, 0.0f);  // NaN stays NaN
    float var = m2 / n;
    float rstd = 1.0f / std::sqrt(var + eps);
    normalize<kW, kB>(v, weight, bias, o, cols, mean, rstd);
  }
}

}  // namespace

void add_layer_norm_cpu(const float* x, const float* x_bias, const float* residual, const float* weight,
                        const float* bias, float* out, int64_t rows, int64_t cols, float eps) {
  int64_t grain = cols > 0 ? (16384 + cols - 1) / cols : 1;
  // One instantiation per combination of optional inputs keeps branches out of the loops.
  using Fn = void (*)(const float*, const float*, const float*, const float*, const float*, float*, int64_t,
                      int64_t, int64_t, float);
  static constexpr Fn table[16] = {
      rows_kernel<false, false, false, false>, rows_kernel<false, false, false, true>,
      rows_kernel<false, false, true, false>,  rows_kernel<false, false, true, true>,
      rows_kernel<false, true, false, false>,  rows_kernel<false, true, false, true>,
      rows_kernel<false, true, true, false>,   rows_kernel<false, true, true, true>,
      rows_kernel<true, false, false, false>,  rows_kernel<true, false, false, true>,
      rows_kernel<true, false, true, false>,   rows_kernel<true, false, true, true>,
      rows_kernel<true, true, false, false>,   rows_kernel<true, true, false, true>,
      rows_kernel<true, true, true, false>,    rows_kernel<true, true, true, true>};
  Fn fn = table[(x_bias ? 8 : 0) | (residual ? 4 : 0) | (weight ? 2 : 0) | (bias ? 1 : 0)];
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) { fn(x, x_bias, residual, weight, bias, out, r0, r1, cols, eps); });
}

}  // namespace TF_ISA_NS
}  // namespace tf
