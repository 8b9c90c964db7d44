// Softmax over the last dim with an additive mask, per-sequence key lengths and/or a causal limit, on CUDA.
// One block per row, fp32 math; the same operation order as the CPU kernel (max, exp(x - max), times 1/sum):
// a row of -inf only gives NaN as torch.softmax, a row without allowed keys (lengths/causal) gives zeros.
#include "common/cuda_common.h"
#include "kernels/softmax.h"

namespace tf {
namespace cuda {
namespace {

constexpr int kSoftmaxPerThread = 8;
constexpr int kMaxLeadDims = 8;

struct SoftmaxParams {
  int64_t cols = 0;
  int lead_dims = 0;
  int64_t lead_shape[kMaxLeadDims] = {};    // scores.shape[:-1]
  int64_t mask_strides[kMaxLeadDims] = {};  // mask strides of those dims (0 where broadcast)
  int64_t rows_per_batch = 1;               // rows / scores.shape[0] (for lengths)
  int64_t queries = 1;
  bool causal = false;
  float scale = 1.0f;
};

template <typename T, bool kCached>
__global__ void __launch_bounds__(1024) masked_softmax_kernel(const T* __restrict__ scores,     // [rows, cols]
                                                              const T* __restrict__ mask,       // strided, or nullptr
                                                              const int64_t* __restrict__ lengths,  // [batch] or nullptr
                                                              T* __restrict__ out,              // [rows, cols]
                                                              SoftmaxParams p) {
  TF_DYNAMIC_SMEM(float, scratch);  // [32]
  const int64_t row = blockIdx.x;
  const int64_t cols = p.cols;
  const T* sr = scores + row * cols;
  T* outr = out + row * cols;
  const T* mr = nullptr;
  if (mask) {
    int64_t offset = 0, rest = row;
    for (int d = p.lead_dims - 1; d >= 0; --d) {
      offset += (rest % p.lead_shape[d]) * p.mask_strides[d];
      rest /= p.lead_shape[d];
    }
    mr = mask + offset;
  }
  int64_t valid = lengths ? lengths[row / p.rows_per_batch] : cols;
  if (p.causal) {
    int64_t i = row % p.queries;
    int64_t limit = i + (valid - p.queries) + 1;
    valid = limit < valid ? limit : valid;
  }
  if (valid < 0) valid = 0;
  auto input = [&](int64_t c) {
    float v = to_float(sr[c]) * p.scale;
    if (mr) v += to_float(mr[c]);
    return v;
  };
  float vals[kCached ? kSoftmaxPerThread : 1];
  float m = -INFINITY;
  if (kCached) {
#pragma unroll
    for (int k = 0; k < kSoftmaxPerThread; ++k) {
      int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
      vals[k] = c < valid ? input(c) : -INFINITY;
      m = nan_max(m, vals[k]);
    }
  } else {
    for (int64_t c = threadIdx.x; c < valid; c += blockDim.x) m = nan_max(m, input(c));
  }
  m = block_reduce(m, scratch, MaxOp(), -INFINITY);
  float sum = 0.0f;
  if (kCached) {
#pragma unroll
    for (int k = 0; k < kSoftmaxPerThread; ++k) {
      int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
      vals[k] = c < valid ? expf(vals[k] - m) : 0.0f;
      sum += vals[k];
    }
  } else {
    for (int64_t c = threadIdx.x; c < valid; c += blockDim.x) sum += expf(input(c) - m);
  }
  sum = block_reduce(sum, scratch, SumOp(), 0.0f);
  const float inv = 1.0f / sum;
  if (kCached) {
#pragma unroll
    for (int k = 0; k < kSoftmaxPerThread; ++k) {
      int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
      if (c < cols) outr[c] = from_float<T>(c < valid ? vals[k] * inv : 0.0f);
    }
  } else {
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      outr[c] = from_float<T>(c < valid ? expf(input(c) - m) * inv : 0.0f);
  }
}

// One block per row: the row's first `keep` values copied out while its max is taken, then the sum of
// exp(x - max); thread 0 merges both into the running pair as the CPU kernel does.
template <typename T>
__global__ void __launch_bounds__(1024) logsumexp_update_kernel(const T* __restrict__ logits, int64_t cols,
                                                                T* __restrict__ out, int64_t out_stride, int64_t keep,
                                                                float* __restrict__ running_max,
                                                                float* __restrict__ running_sum) {
  TF_DYNAMIC_SMEM(float, scratch);  // [32]
  const int64_t row = blockIdx.x;
  const T* x = logits + row * cols;
  float m = -INFINITY;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const T v = x[c];
    if (c < keep) out[row * out_stride + c] = v;
    m = nan_max(m, to_float(v));
  }
  m = block_reduce(m, scratch, MaxOp(), -INFINITY);
  float sum = 0.0f;
  if (m != -INFINITY)
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += expf(to_float(x[c]) - m);
  sum = block_reduce(sum, scratch, SumOp(), 0.0f);
  if (threadIdx.x == 0) {
    const float prev_max = running_max[row], prev_sum = running_sum[row];
    const float best = (m > prev_max || m != m) ? m : prev_max;
    if (best != -INFINITY) {
      running_sum[row] = prev_sum * expf(prev_max - best) + sum * expf(m - best);
      running_max[row] = best;
    }
  }
}

}  // namespace
}  // namespace cuda

void masked_softmax_cuda(const TensorView& scores, const TensorView* mask, const TensorView* lengths,
                         const TensorView& out, double scale, bool causal, void* stream) {
  cuda::run_checked("masked_softmax_cuda", [&] {
    cuda::check_float_dtype(scores, "scores");
    MaskedSoftmaxArgs a = masked_softmax_args(scores, mask, lengths, out, scale, causal, scores.dtype, cuda::kOnCpu);
    if (a.rows == 0) return;
    TF_CHECK(a.rows <= 0x7fffffff, "scores: at most 2^31 - 1 rows");
    TF_CHECK(static_cast<int>(a.lead_shape.size()) <= cuda::kMaxLeadDims, "scores: at most ",
             cuda::kMaxLeadDims + 1, " dimensions");
    cuda::SoftmaxParams p;
    p.cols = a.cols;
    p.lead_dims = static_cast<int>(a.lead_shape.size());
    for (int d = 0; d < p.lead_dims; ++d) {
      p.lead_shape[d] = a.lead_shape[d];
      p.mask_strides[d] = a.mask ? a.mask_lead_strides[d] : 0;
    }
    p.rows_per_batch = a.lengths ? a.rows / a.lead_shape[0] : 1;
    p.queries = a.queries;
    p.causal = a.causal;
    p.scale = a.scale;
    cuda::dispatch_float(scores.dtype, [&](auto tag) {
      using T = decltype(tag);
      int64_t per_thread = cuda::ceil_div(a.cols, cuda::kSoftmaxPerThread);
      int threads = static_cast<int>(std::min<int64_t>(1024, cuda::ceil_div(per_thread, 32) * 32));
      dim3 grid(static_cast<unsigned>(a.rows)), block(threads);
      size_t smem = 32 * sizeof(float);
      const T* s = reinterpret_cast<const T*>(a.scores);
      const T* m = reinterpret_cast<const T*>(a.mask);
      T* o = reinterpret_cast<T*>(a.out);
      if (a.cols <= int64_t{1024} * cuda::kSoftmaxPerThread)
        TF_LAUNCH(grid, block, smem, cuda::as_stream(stream), cuda::masked_softmax_kernel<T, true>)(s, m, a.lengths, o, p);
      else
        TF_LAUNCH(grid, block, smem, cuda::as_stream(stream), cuda::masked_softmax_kernel<T, false>)(s, m, a.lengths, o, p);
    });
  });
}

void logsumexp_update_cuda(const TensorView& logits, const TensorView* out, const TensorView& running_max,
                           const TensorView& running_sum, void* stream) {
  cuda::run_checked("logsumexp_update_cuda", [&] {
    cuda::check_float_dtype(logits, "logits");
    LogsumexpUpdateArgs a = logsumexp_update_args(logits, out, running_max, running_sum, cuda::kOnCpu);
    if (a.rows == 0) return;
    TF_CHECK(a.rows <= 0x7fffffff, "logits: at most 2^31 - 1 rows");
    cuda::dispatch_float(logits.dtype, [&](auto tag) {
      using T = decltype(tag);
      int threads = static_cast<int>(std::min<int64_t>(1024, std::max<int64_t>(32, cuda::ceil_div(a.cols, 32) * 32)));
      dim3 grid(static_cast<unsigned>(a.rows)), block(threads);
      TF_LAUNCH(grid, block, 32 * sizeof(float), cuda::as_stream(stream), cuda::logsumexp_update_kernel<T>)(
          reinterpret_cast<const T*>(a.logits), a.cols, reinterpret_cast<T*>(a.out), a.out_row_stride, a.keep,
          a.running_max, a.running_sum);
    });
  });
}

}  // namespace tf
