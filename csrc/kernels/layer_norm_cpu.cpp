#include <cmath>

#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/layer_norm.h"

namespace tf {
namespace TF_ISA_NS {

using vec::VecF;

namespace {

constexpr int W = VecF::size;
// 1 in the first k lanes, 0 after: multiplying by it keeps masked tail lanes out of a sum.
alignas(64) const float kOnes[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

// Sum of a row (statistics always in one fixed order per row: thread-count independent).
// When kAdd, the row is first formed as x + x_bias + residual (torch's order) and stored in out.
template <bool kAdd, bool kXBias, bool kRes>
inline float sum_row(const float* x, const float* x_bias, const float* residual, float* out, int64_t n) {
  auto value = [&](int64_t c) {
    VecF v = VecF::load(x + c);
    if (kXBias) v = v + VecF::load(x_bias + c);
    if (kRes) v = v + VecF::load(residual + c);
    if (kAdd) v.store(out + c);
    return v;
  };
  VecF a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
  int64_t c = 0;
  for (; c + 4 * W <= n; c += 4 * W) {
    a0 = a0 + value(c);
    a1 = a1 + value(c + W);
    a2 = a2 + value(c + 2 * W);
    a3 = a3 + value(c + 3 * W);
  }
  for (; c + W <= n; c += W) a0 = a0 + value(c);
  float tail = 0.0f;
  for (; c < n; ++c) {
    float v = x[c];
    if (kXBias) v += x_bias[c];
    if (kRes) v += residual[c];
    if (kAdd) out[c] = v;
    tail += v;
  }
  return ((a0 + a1) + (a2 + a3)).reduce_add() + tail;
}

inline float sum_sq_dev(const float* v, int64_t n, float mean) {
  VecF m(mean), a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
  int64_t c = 0;
  for (; c + 4 * W <= n; c += 4 * W) {
    VecF d0 = VecF::load(v + c) - m, d1 = VecF::load(v + c + W) - m;
    VecF d2 = VecF::load(v + c + 2 * W) - m, d3 = VecF::load(v + c + 3 * W) - m;
    a0 = VecF::fmadd(d0, d0, a0);
    a1 = VecF::fmadd(d1, d1, a1);
    a2 = VecF::fmadd(d2, d2, a2);
    a3 = VecF::fmadd(d3, d3, a3);
  }
  for (; c + W <= n; c += W) {
    VecF d = VecF::load(v + c) - m;
    a0 = VecF::fmadd(d, d, a0);
  }
  if (c < n) {
    int k = static_cast<int>(n - c);
    VecF d = (VecF::load(v + c, k) - m) * VecF::load(kOnes, k);
    a1 = VecF::fmadd(d, d, a1);
  }
  return ((a0 + a1) + (a2 + a3)).reduce_add();
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
    float sum = sum_row<kAdd, kXBias, kRes>(xr, x_bias, kRes ? residual + r * cols : nullptr, o, cols);
    const float* v = kAdd ? o : xr;  // the sum stays in out (in L1) for the two passes that follow
    float mean = sum / static_cast<float>(cols);
    float var = sum_sq_dev(v, cols, mean) / static_cast<float>(cols);
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
