// Softmax over the last dim with an additive mask, per-sequence key lengths and/or a causal limit.
#pragma once
#include <cstdint>
#include <utility>
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

// Online log-sum-exp over column chunks (the adaptive softmax's log-probabilities, made a chunk of columns at a
// time so that each chunk's logits are still in cache when they are reduced and copied out): each row's max m and
// sum of exp(x - m) over logits [rows, cols] are merged into running_max / running_sum (float32 [rows]; -inf and 0
// before the first chunk), and when `out` is given the row's first out.size(1) values are copied into it (a
// [rows, keep] view with contiguous rows, keep <= cols). logits and out: float32 or bfloat16. The log-sum-exp so
// far is running_max + log(running_sum).
struct LogsumexpUpdateArgs {
  DType dtype = DType::f32;
  const void* logits = nullptr;
  int64_t rows = 0, cols = 0;
  void* out = nullptr;
  int64_t out_row_stride = 0, keep = 0;
  float* running_max = nullptr;
  float* running_sum = nullptr;
};

TF_ISA_DECLARE(void, logsumexp_update_cpu, (const LogsumexpUpdateArgs& args))

// The checks of every device's front, and the kernel arguments.
inline LogsumexpUpdateArgs logsumexp_update_args(const TensorView& logits, const TensorView* out,
                                                 const TensorView& running_max, const TensorView& running_sum,
                                                 bool on_cpu) {
  check_tensor_on(logits, "logits", logits.dtype, on_cpu);
  TF_CHECK(logits.dim() == 2, "logits: expected [rows, cols]");
  LogsumexpUpdateArgs a;
  a.dtype = logits.dtype;
  a.logits = logits.data;
  a.rows = logits.size(0);
  a.cols = logits.size(1);
  for (auto [t, name] : {std::pair{&running_max, "running_max"}, std::pair{&running_sum, "running_sum"}}) {
    check_tensor_on(*t, name, DType::f32, on_cpu);
    TF_CHECK(t->dim() == 1 && t->size(0) == a.rows, name, ": expected shape [", a.rows, "]");
    check_no_overlap(*t, name, &logits, "logits");
  }
  check_no_overlap(running_sum, "running_sum", &running_max, "running_max");
  a.running_max = running_max.ptr<float>();
  a.running_sum = running_sum.ptr<float>();
  if (out) {
    check_tensor_on(*out, "out", logits.dtype, on_cpu, /*contiguous=*/false);
    TF_CHECK(out->dim() == 2 && out->size(0) == a.rows && out->size(1) <= a.cols, "out: expected [", a.rows,
             ", keep] with keep <= ", a.cols);
    a.keep = out->size(1);
    TF_CHECK(a.keep <= 1 || out->strides[1] == 1, "out: rows must be contiguous");
    TF_CHECK(a.rows <= 1 || a.keep == 0 || out->strides[0] >= a.keep, "out: rows overlap");
    check_no_overlap(*out, "out", &logits, "logits");
    check_no_overlap(*out, "out", &running_max, "running_max");
    check_no_overlap(*out, "out", &running_sum, "running_sum");
    a.out = out->data;
    a.out_row_stride = out->strides[0];
  }
  return a;
}

inline void logsumexp_update(const TensorView& logits, const TensorView* out, const TensorView& running_max,
                             const TensorView& running_sum) {
  check_cpu_dtype(logits, "logits");
  LogsumexpUpdateArgs a = logsumexp_update_args(logits, out, running_max, running_sum, /*on_cpu=*/true);
  TF_ISA_CALL(logsumexp_update_cpu, a);
}

// The CUDA kernels (softmax_cuda.cu): float32, float16 or bfloat16 (scores, mask and out alike; logits and out).
void masked_softmax_cuda(const TensorView& scores, const TensorView* mask, const TensorView* lengths,
                         const TensorView& out, double scale, bool causal, void* stream);
void logsumexp_update_cuda(const TensorView& logits, const TensorView* out, const TensorView& running_max,
                           const TensorView& running_sum, void* stream);

}  // namespace tf
