#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

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
// When kKeep, the row is first formed in fp32 as x + x_bias + residual (torch's order) and stored in `keep`.
template <bool kKeep, bool kXBias, bool kRes, typename T>
inline RowMoments row_moments(const T* x, const T* x_bias, const T* residual, float* keep, int64_t n,
                              float& shift) {
  using vec::to_float;
  auto value = [&](int64_t c) {
    VecF v = vec::load(x + c);
    if (kXBias) v = v + vec::load(x_bias + c);
    if (kRes) v = v + vec::load(residual + c);
    if (kKeep) v.store(keep + c);
    return v;
  };
  float first = to_float(x[0]);
  if (kXBias) first += to_float(x_bias[0]);
  if (kRes) first += to_float(residual[0]);
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
    float v = to_float(x[c]);
    if (kXBias) v += to_float(x_bias[c]);
    if (kRes) v += to_float(residual[c]);
    if (kKeep) keep[c] = v;
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

template <bool kW, bool kB, typename P, typename T>
inline void normalize(const float* v, const P* weight, const P* bias, T* out, int64_t n, float mean, float rstd) {
  VecF m(mean), r(rstd);
  auto one = [&](int64_t c, int k) {
    VecF y = (VecF::load(v + c, k) - m) * r;
    if (kW) y = y * vec::load(weight + c, k);
    if (kB) y = y + vec::load(bias + c, k);
    vec::store(y, out + c, k);
  };
  int64_t c = 0;
  for (; c + W <= n; c += W) {
    VecF y = (VecF::load(v + c) - m) * r;
    if (kW) y = y * vec::load(weight + c);
    if (kB) y = y + vec::load(bias + c);
    vec::store(y, out + c);
  }
  if (c < n) one(c, static_cast<int>(n - c));
}

// T: x, x_bias, residual and out; P: weight and bias. A float32 row with nothing to add is read in place; any
// other is formed in fp32 once and kept (in L1) for the passes that follow: in out for float32, else in `row`.
template <typename T, typename P, bool kXBias, bool kRes, bool kW, bool kB>
void rows_kernel(const T* x, const T* x_bias, const T* residual, const P* weight, const P* bias, T* out,
                 int64_t r0, int64_t r1, int64_t cols, float eps, float* row) {
  constexpr bool kFloat = std::is_same_v<T, float>;
  constexpr bool kKeep = kXBias || kRes || !kFloat;
  for (int64_t r = r0; r < r1; ++r) {
    T* o = out + r * cols;
    const T* xr = x + r * cols;
    float* keep = row;
    if constexpr (kFloat) keep = o;
    float shift;
    const T* res = kRes ? residual + r * cols : nullptr;
    RowMoments mo = row_moments<kKeep, kXBias, kRes>(xr, x_bias, res, keep, cols, shift);
    const float* v = keep;
    if constexpr (!kKeep) v = xr;
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

template <typename T, typename P>
void add_layer_norm_typed(const T* x, const T* x_bias, const T* residual, const P* weight, const P* bias, T* out,
                          int64_t rows, int64_t cols, float eps) {
  int64_t grain = cols > 0 ? (16384 + cols - 1) / cols : 1;
  // One instantiation per combination of optional inputs keeps branches out of the loops.
  using Fn = void (*)(const T*, const T*, const T*, const P*, const P*, T*, int64_t, int64_t, int64_t, float, float*);
  static constexpr Fn table[16] = {
      rows_kernel<T, P, false, false, false, false>, rows_kernel<T, P, false, false, false, true>,
      rows_kernel<T, P, false, false, true, false>,  rows_kernel<T, P, false, false, true, true>,
      rows_kernel<T, P, false, true, false, false>,  rows_kernel<T, P, false, true, false, true>,
      rows_kernel<T, P, false, true, true, false>,   rows_kernel<T, P, false, true, true, true>,
      rows_kernel<T, P, true, false, false, false>,  rows_kernel<T, P, true, false, false, true>,
      rows_kernel<T, P, true, false, true, false>,   rows_kernel<T, P, true, false, true, true>,
      rows_kernel<T, P, true, true, false, false>,   rows_kernel<T, P, true, true, false, true>,
      rows_kernel<T, P, true, true, true, false>,    rows_kernel<T, P, true, true, true, true>};
  Fn fn = table[(x_bias ? 8 : 0) | (residual ? 4 : 0) | (weight ? 2 : 0) | (bias ? 1 : 0)];
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    thread_local std::vector<float> row;  // the fp32 row of a bfloat16 x
    if (!std::is_same_v<T, float>) row.resize(cols);
    fn(x, x_bias, residual, weight, bias, out, r0, r1, cols, eps, row.data());
  });
}

}  // namespace

void add_layer_norm_cpu(DType dtype, DType param_dtype, const void* x, const void* x_bias, const void* residual,
                        const void* weight, const void* bias, void* out, int64_t rows, int64_t cols, float eps) {
  vec::with_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    auto run = [&](auto param_tag) {
      using P = decltype(param_tag);
      add_layer_norm_typed<T, P>(static_cast<const T*>(x), static_cast<const T*>(x_bias),
                                 static_cast<const T*>(residual), static_cast<const P*>(weight),
                                 static_cast<const P*>(bias), static_cast<T*>(out), rows, cols, eps);
    };
    if (param_dtype == DType::f32) run(float{});
    else run(T{});
  });
}

}  // namespace TF_ISA_NS
}  // namespace tf
