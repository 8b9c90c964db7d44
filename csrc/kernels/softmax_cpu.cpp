#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "common/parallel.h"
#include "kernels/softmax.h"
#include "kernels/softmax_row.h"

namespace tf {
namespace TF_ISA_NS {

namespace {

template <typename T>
void masked_softmax_typed(const MaskedSoftmaxArgs& a) {
  const T* scores = static_cast<const T*>(a.scores);
  const T* mask = static_cast<const T*>(a.mask);
  T* out = static_cast<T*>(a.out);
  const int64_t rows_per_batch = a.lead_shape.empty() || a.lead_shape[0] == 0 ? 1 : a.rows / a.lead_shape[0];
  const int64_t nd = static_cast<int64_t>(a.lead_shape.size());
  int64_t grain = a.cols > 0 ? (16384 + a.cols - 1) / a.cols : 1;
  parallel_for(a.rows, grain, [&](int64_t r0, int64_t r1) {
    thread_local std::vector<float> work;  // the fp32 row of a bfloat16 softmax (float32 works in out)
    if (!std::is_same_v<T, float>) work.resize(a.cols);
    for (int64_t r = r0; r < r1; ++r) {
      const T* mask_row = nullptr;
      if (mask) {
        int64_t off = 0, rest = r;
        for (int64_t d = nd - 1; d >= 0; --d) {
          off += (rest % a.lead_shape[d]) * a.mask_lead_strides[d];
          rest /= a.lead_shape[d];
        }
        mask_row = mask + off;
      }
      int64_t keys = a.lengths ? a.lengths[r / rows_per_batch] : a.cols;
      int64_t n_valid = keys;
      if (a.causal) n_valid = std::min(n_valid, r % a.queries + (keys - a.queries) + 1);
      T* o = out + r * a.cols;
      if (n_valid <= 0) {
        std::fill(o, o + a.cols, vec::from_float<T>(0.0f));
        continue;
      }
      if constexpr (std::is_same_v<T, float>)
        softmax_row(scores + r * a.cols, o, n_valid, a.cols, a.scale, mask_row);
      else
        softmax_row_to(scores + r * a.cols, work.data(), n_valid, a.cols, a.scale, mask_row, o);
    }
  });
}

template <typename T>
void logsumexp_update_typed(const LogsumexpUpdateArgs& a) {
  using vec::VecF;
  constexpr int W = VecF::size;
  const T* logits = static_cast<const T*>(a.logits);
  T* out = static_cast<T*>(a.out);
  const int64_t n = a.cols;
  parallel_for(a.rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(n, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = logits + r * n;
      if (out && a.keep > 0) std::memcpy(out + r * a.out_row_stride, x, static_cast<size_t>(a.keep) * sizeof(T));
      if (n == 0) continue;
      // The row (a chunk: tens of KB) is read twice from cache: its max, then the sum of exp(x - max).
      VecF vmax(-INFINITY);
      float smax = -INFINITY;
      int64_t j = 0;
      for (; j + W <= n; j += W) vmax = VecF::max(vmax, vec::load(x + j));
      for (; j < n; ++j) {
        float v = vec::to_float(x[j]);
        smax = (v > smax || v != v) ? v : smax;
      }
      float m = vmax.reduce_max();
      m = (smax > m || smax != smax) ? smax : m;
      if (m == -INFINITY) {  // vector max drops NaN (a NaN beside finite values still makes the sum NaN below)
        for (j = 0; j < n; ++j)
          if (std::isnan(vec::to_float(x[j]))) {
            m = NAN;
            break;
          }
      }
      float sum = 0.0f;
      if (m != -INFINITY) {
        VecF vm(m), vsum(0.0f);
        for (j = 0; j + W <= n; j += W) vsum = vsum + vec::exp_nonpositive(vec::load(x + j) - vm);
        for (; j < n; ++j) sum += std::exp(vec::to_float(x[j]) - m);
        sum += vsum.reduce_add();
      }
      // Merge with the chunks before: both sums rescaled to the larger max (an all -inf side adds 0).
      const float prev_max = a.running_max[r], prev_sum = a.running_sum[r];
      const float best = (m > prev_max || m != m) ? m : prev_max;
      if (best == -INFINITY) continue;
      a.running_sum[r] = prev_sum * std::exp(prev_max - best) + sum * std::exp(m - best);
      a.running_max[r] = best;
    }
  });
}

}  // namespace

void masked_softmax_cpu(const MaskedSoftmaxArgs& a) {
  vec::with_dtype(a.dtype, [&](auto tag) { masked_softmax_typed<decltype(tag)>(a); });
}

void logsumexp_update_cpu(const LogsumexpUpdateArgs& a) {
  vec::with_dtype(a.dtype, [&](auto tag) { logsumexp_update_typed<decltype(tag)>(a); });
}

}  // namespace TF_ISA_NS
}  // namespace tf
