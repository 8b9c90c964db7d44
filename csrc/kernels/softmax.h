// Softmax over the last dim with an additive mask, per-sequence key lengths and/or a causal limit.
#pragma once
#include <cstdint>
#include <vector>

#include "common/cpu_features.h"
#include "common/tensor_view.h"

namespace tf {

// scores, mask and out are read and written in `dtype` (float32 or bfloat16 for the CPU kernel; the CUDA
// kernels take float16 too); the softmax is computed in fp32.
struct MaskedSoftmaxArgs {
  DType dtype = DType::f32;
  const void* scores = nullptr;  // [rows, cols] (leading dims flattened)
  void* out = nullptr;           // [rows, cols]
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> lead_shape;   // scores.shape[:-1]
  const void* mask = nullptr;        // additive, broadcast to scores.shape, last dim contiguous
  std::vector<int64_t> mask_lead_strides;  // mask strides of the leading dims (0 where broadcast)
  const int64_t* lengths = nullptr;  // [lead_shape[0]]: keys >= length are excluded
  int64_t queries = 1;               // scores.shape[-2] (for causal)
  bool causal = false;               // key j allowed iff j <= i + (valid_keys - queries)
  float scale = 1.0f;
};

TF_ISA_DECLARE(void, masked_softmax_cpu, (const MaskedSoftmaxArgs& args))

// The checks of every device's front, and the kernel arguments. Length values are checked here only where the
// host can read them (on_cpu); the Python op checks them for CUDA tensors.
inline MaskedSoftmaxArgs masked_softmax_args(const TensorView& scores, const TensorView* mask,
                                             const TensorView* lengths, const TensorView& out, double scale,
                                             bool causal, DType dtype, bool on_cpu) {
  check_tensor_on(scores, "scores", dtype, on_cpu);
  check_tensor_on(out, "out", dtype, on_cpu);
  check_same_shape(scores, "scores", out, "out");
  TF_CHECK(scores.dim() >= 1, "scores: needs at least one dimension");
  MaskedSoftmaxArgs a;
  a.dtype = dtype;
  a.scores = scores.data;
  a.out = out.data;
  a.cols = scores.size(-1);
  a.rows = a.cols == 0 ? 0 : scores.numel() / a.cols;
  a.lead_shape.assign(scores.shape.begin(), scores.shape.end() - 1);
  a.scale = static_cast<float>(scale);
  a.causal = causal;
  if (causal) {
    TF_CHECK(scores.dim() >= 2, "scores: causal needs [..., queries, keys]");
    a.queries = scores.size(-2);
  }
  if (mask) {
    check_tensor_on(*mask, "mask", dtype, on_cpu, /*contiguous=*/false);
    TF_CHECK(mask->shape == scores.shape, "mask: must be expanded to the shape of scores");
    TF_CHECK(a.cols <= 1 || mask->strides.back() == 1, "mask: last dim must be contiguous");
    a.mask = mask->data;
    a.mask_lead_strides.assign(mask->strides.begin(), mask->strides.end() - 1);
  }
  if (lengths) {
    check_tensor_on(*lengths, "lengths", DType::i64, on_cpu);
    TF_CHECK(scores.dim() >= 2, "lengths: need scores of at least 2 dims [batch, ..., keys]");
    TF_CHECK(lengths->dim() == 1 && lengths->size(0) == scores.size(0), "lengths: expected shape [", scores.size(0),
             "]");
    for (int64_t b = 0; on_cpu && b < lengths->size(0); ++b) {
      int64_t n = lengths->ptr<int64_t>()[b];
      TF_CHECK(n >= 0 && n <= a.cols, "lengths: values must be in [0, ", a.cols, "], got ", n);
    }
    a.lengths = lengths->ptr<int64_t>();
  }
  check_no_overlap(out, "out", &scores, "scores", /*same_ok=*/true);
  check_no_overlap(out, "out", mask, "mask");
  check_no_overlap(out, "out", lengths, "lengths");
  return a;
}

// Rows whose every key is excluded by lengths/causal are all zeros. float32 or bfloat16 (scores, mask and out
// alike).
inline void masked_softmax(const TensorView& scores, const TensorView* mask, const TensorView* lengths,
                           const TensorView& out, double scale, bool causal) {
  check_cpu_dtype(scores, "scores");
  MaskedSoftmaxArgs a = masked_softmax_args(scores, mask, lengths, out, scale, causal, scores.dtype, true);
  TF_ISA_CALL(masked_softmax_cpu, a);
}

// The CUDA kernel (softmax_cuda.cu): float32, float16 or bfloat16 (scores, mask and out alike).
void masked_softmax_cuda(const TensorView& scores, const TensorView* mask, const TensorView* lengths,
                         const TensorView& out, double scale, bool causal, void* stream);

}  // namespace tf
