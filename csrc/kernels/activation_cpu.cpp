#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/activation.h"

namespace tf {
namespace TF_ISA_NS {

using vec::VecF;

namespace {

using vec::gelu_erf;
using vec::gelu_tanh;

template <GeluKind kind, bool has_bias>
void gelu_rows(const float* x, const float* bias, float* out, int64_t r0, int64_t r1, int64_t cols) {
  constexpr int W = VecF::size;
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * cols;
    float* outr = out + r * cols;
    int64_t c = 0;
    auto apply = [&](VecF v, int64_t at) {
      if (has_bias) v = v + VecF::load(bias + at);
      return kind == GeluKind::erf ? gelu_erf(v) : gelu_tanh(v);
    };
    for (; c + W <= cols; c += W) apply(VecF::load(xr + c), c).store(outr + c);
    if (c < cols) {
      int n = static_cast<int>(cols - c);
      VecF v = VecF::load(xr + c, n);
      if (has_bias) v = v + VecF::load(bias + c, n);
      (kind == GeluKind::erf ? gelu_erf(v) : gelu_tanh(v)).store(outr + c, n);
    }
  }
}

}  // namespace

void gelu_cpu(const float* x, const float* bias, float* out, int64_t rows, int64_t cols, GeluKind kind) {
  // ~32k elements per task keeps thread wake-up cost small against the work.
  int64_t grain = cols > 0 ? (32768 + cols - 1) / cols : 1;
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    if (kind == GeluKind::erf) {
      bias ? gelu_rows<GeluKind::erf, true>(x, bias, out, r0, r1, cols)
           : gelu_rows<GeluKind::erf, false>(x, bias, out, r0, r1, cols);
    } else {
      bias ? gelu_rows<GeluKind::tanh, true>(x, bias, out, r0, r1, cols)
           : gelu_rows<GeluKind::tanh, false>(x, bias, out, r0, r1, cols);
    }
  });
}

}  // namespace TF_ISA_NS
}  // namespace tf
