#include <type_traits>
#include <vector>

#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/activation.h"

namespace tf {
namespace TF_ISA_NS {

using vec::VecF;

namespace {

using vec::gelu_erf;
using vec::gelu_tanh;

template <typename T, GeluKind kind, bool has_bias>
void gelu_rows(const T* x, const float* bias, T* out, int64_t r0, int64_t r1, int64_t cols) {
  constexpr int W = VecF::size;
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * cols;
    T* outr = out + r * cols;
    int64_t c = 0;
    auto apply = [&](VecF v, int64_t at) {
      if (has_bias) v = v + VecF::load(bias + at);
      return kind == GeluKind::erf ? gelu_erf(v) : gelu_tanh(v);
    };
    for (; c + W <= cols; c += W) vec::store(apply(vec::load(xr + c), c), outr + c);
    if (c < cols) {
      int n = static_cast<int>(cols - c);
      VecF v = vec::load(xr + c, n);
      if (has_bias) v = v + VecF::load(bias + c, n);
      vec::store(kind == GeluKind::erf ? gelu_erf(v) : gelu_tanh(v), outr + c, n);
    }
  }
}

}  // namespace

void gelu_cpu(DType dtype, const void* x, const void* bias, void* out, int64_t rows, int64_t cols, GeluKind kind) {
  // ~32k elements per task keeps thread wake-up cost small against the work.
  int64_t grain = cols > 0 ? (32768 + cols - 1) / cols : 1;
  vec::with_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x);
    T* op = static_cast<T*>(out);
    // The bias in fp32 (a bf16 one converted once, not once per row).
    const float* bp = static_cast<const float*>(bias);
    std::vector<float> bias32;
    if (!std::is_same_v<T, float> && bias) {
      bias32.resize(cols);
      for (int64_t c = 0; c < cols; ++c) bias32[c] = vec::to_float(static_cast<const T*>(bias)[c]);
      bp = bias32.data();
    }
    parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      if (kind == GeluKind::erf) {
        bp ? gelu_rows<T, GeluKind::erf, true>(xp, bp, op, r0, r1, cols)
           : gelu_rows<T, GeluKind::erf, false>(xp, bp, op, r0, r1, cols);
      } else {
        bp ? gelu_rows<T, GeluKind::tanh, true>(xp, bp, op, r0, r1, cols)
           : gelu_rows<T, GeluKind::tanh, false>(xp, bp, op, r0, r1, cols);
      }
    });
  });
}

}  // namespace TF_ISA_NS
}  // namespace tf
