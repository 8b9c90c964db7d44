#include <algorithm>

#include "common/parallel.h"
#include "kernels/softmax.h"
#include "kernels/softmax_row.h"

namespace tf {
namespace TF_ISA_NS {

void masked_softmax_cpu(const MaskedSoftmaxArgs& a) {
  const int64_t rows_per_batch = a.lead_shape.empty() || a.lead_shape[0] == 0 ? 1 : a.rows / a.lead_shape[0];
  const int64_t nd = static_cast<int64_t>(a.lead_shape.size());
  int64_t grain = a.cols > 0 ? (16384 + a.cols - 1) / a.cols : 1;
  parallel_for(a.rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* mask_row = nullptr;
      if (a.mask) {
        int64_t off = 0, rest = r;
        for (int64_t d = nd - 1; d >= 0; --d) {
          off += (rest % a.lead_shape[d]) * a.mask_lead_strides[d];
          rest /= a.lead_shape[d];
        }
        mask_row = a.mask + off;
      }
      int64_t keys = a.lengths ? a.lengths[r / rows_per_batch] : a.cols;
      int64_t n_valid = keys;
      if (a.causal) n_valid = std::min(n_valid, r % a.queries + (keys - a.queries) + 1);
      float* out = a.out + r * a.cols;
      if (n_valid <= 0) {
        std::fill(out, out + a.cols, 0.0f);
        continue;
      }
      softmax_row(a.scores + r * a.cols, out, n_valid, a.cols, a.scale, mask_row);
    }
  });
}

}  // namespace TF_ISA_NS
}  // namespace tf
