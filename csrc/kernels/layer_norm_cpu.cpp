#include <cmath>

#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/layer_norm.h"

namespace tf {
namespace TF_ISA_NS {

using vec::VecF;

namespace {

constexpr int W = VecF::size;

// Sum of a row with four independent accumulators (a fixed order per row: thread-count independent).
inline float row_sum(const float* v, int64_t n) {
  VecF a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
  int64_t c = 0;
  for (; c + 4 * W <= n; c += 4 * W) {
    a0 = a0 + VecF::load(v + c);
    a1 = a1 + VecF::load(v + c + W);
    a2 = a2 + VecF::load(v + c + 2 * W);
    a3 = a3 + VecF::load(v + c + 3 * W);
  }
  for (; c + W <= n; c += W) a0 = a0 + VecF::load(v + c);
  if (c < n) a1 = a1 + VecF::load(v + c, static_cast<int>(n - c));
  return ((a0 + a1) + (a2 + a3)).reduce_add();
}

inline float row_sq_dev(const float* v, int64_t n, float mean) {
  VecF m(mean), a0(0.0f), a1(0.0f);
  int64_t c = 0;
  for (; c + 2 * W <= n; c += 2 * W) {
    VecF d0 = VecF::load(v + c) - m, d1 = VecF::load(v + c + W) - m;
    a0 = VecF::fmadd(d0, d0, a0);
    a1 = VecF::fmadd(d1, d1, a1);
  }
  for (; c + W <= n; c += W) {
    VecF d = VecF::load(v + c) - m;
    a0 = VecF::fmadd(d, d, a0);
  }
  if (c < n) {
    // Masked lanes load as 0; multiplying by 1/0 lanes keeps them out of the sum.
    static const float ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    int k = static_cast<int>(n - c);
    VecF d = (VecF::load(v + c, k) - m) * VecF::load(ones, k);
    a1 = VecF::fmadd(d, d, a1);
  }
  return (a0 + a1).reduce_add();
}

inline void normalize(const float* v, const float* weight, const float* bias, float* out, int64_t n,
                      float mean, float rstd) {
  VecF m(mean), r(rstd);
  auto one = [&](int64_t c, int k) {
    VecF y = (VecF::load(v + c, k) - m) * r;
    if (weight) y = y * VecF::load(weight + c, k);
    if (bias) y = y + VecF::load(bias + c, k);
    y.store(out + c, k);
  };
  int64_t c = 0;
  for (; c + W <= n; c += W) {
    VecF y = (VecF::load(v + c) - m) * r;
    if (weight) y = y * VecF::load(weight + c);
    if (bias) y = y + VecF::load(bias + c);
    y.store(out + c);
  }
  if (c < n) one(c, static_cast<int>(n - c));
}

// out = x + x_bias + residual (in that order, as the torch expression), returns nothing.
inline void add_inputs(const float* x, const float* x_bias, const float* residual, float* out, int64_t n) {
  int64_t c = 0;
  for (; c + W <= n; c += W) {
    VecF v = VecF::load(x + c);
    if (x_bias) v = v + VecF::load(x_bias + c);
    if (residual) v = v + VecF::load(residual + c);
    v.store(out + c);
  }
  for (; c < n; ++c) {
    float v = x[c];
    if (x_bias) v += x_bias[c];
    if (residual) v += residual[c];
    out[c] = v;
  }
}

}  // namespace

void add_layer_norm_cpu(const float* x, const float* x_bias, const float* residual, const float* weight,
                        const float* bias, float* out, int64_t rows, int64_t cols, float eps) {
  int64_t grain = cols > 0 ? (16384 + cols - 1) / cols : 1;
  bool fused = x_bias || residual;
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* o = out + r * cols;
      const float* v = x + r * cols;
      if (fused) {
        add_inputs(v, x_bias, residual ? residual + r * cols : nullptr, o, cols);
        v = o;  // the sum stays in out (in L1) for the two passes that follow
      }
      float mean = row_sum(v, cols) / static_cast<float>(cols);
      float var = row_sq_dev(v, cols, mean) / static_cast<float>(cols);
      float rstd = 1.0f / std::sqrt(var + eps);
      normalize(v, weight, bias, o, cols, mean, rstd);
    }
  });
}

}  // namespace TF_ISA_NS
}  // namespace tf
