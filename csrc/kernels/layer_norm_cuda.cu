// LayerNorm, optionally fused with the residual add before it, on CUDA: out = LN(x + x_bias + residual).
// One block per row; statistics in fp32, shifted by the row's first value (so that a large common offset
// does not swamp the mean's rounding), then the sum of squared deviations from that mean (two passes).
#include "common/cuda_common.h"
#include "kernels/layer_norm.h"

namespace tf {
namespace cuda {
namespace {

constexpr int kLnPerThread = 8;  // values a thread keeps in registers: rows up to 8192 are read once

template <typename T, bool kCached>
__global__ void __launch_bounds__(1024) add_layer_norm_kernel(
    const T* __restrict__ x,         // [rows, cols]
    const T* __restrict__ x_bias,    // [cols] or nullptr
    const T* __restrict__ residual,  // [rows, cols] or nullptr
    const T* __restrict__ weight,    // [cols] or nullptr (= 1)
    const T* __restrict__ bias,      // [cols] or nullptr (= 0)
    T* __restrict__ out,             // [rows, cols]
    int64_t cols, float eps) {
  TF_DYNAMIC_SMEM(float, scratch);  // [32]
  const int64_t row = blockIdx.x;
  const T* xr = x + row * cols;
  const T* rr = residual ? residual + row * cols : nullptr;
  T* outr = out + row * cols;
  auto raw = [&](int64_t c) {
    float v = to_float(xr[c]);
    if (x_bias) v += to_float(x_bias[c]);
    if (rr) v += to_float(rr[c]);
    return v;
  };
  const float shift = raw(0);
  auto input = [&](int64_t c) { return raw(c) - shift; };
  float vals[kCached ? kLnPerThread : 1];
  float sum = 0.0f;
  if (kCached) {
#pragma unroll
    for (int k = 0; k < kLnPerThread; ++k) {
      int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
      vals[k] = c < cols ? input(c) : 0.0f;
      sum += vals[k];
    }
  } else {
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += input(c);
  }
  const float mean = block_reduce(sum, scratch, SumOp(), 0.0f) / static_cast<float>(cols);
  float sq = 0.0f;
  if (kCached) {
#pragma unroll
    for (int k = 0; k < kLnPerThread; ++k) {
      int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
      float d = vals[k] - mean;
      if (c < cols) sq += d * d;
    }
  } else {
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      float d = input(c) - mean;
      sq += d * d;
    }
  }
  const float var = block_reduce(sq, scratch, SumOp(), 0.0f) / static_cast<float>(cols);
  const float inv = 1.0f / sqrtf(var + eps);
  auto emit = [&](int64_t c, float v) {
    float y = (v - mean) * inv;
    if (weight) y *= to_float(weight[c]);
    if (bias) y += to_float(bias[c]);
    outr[c] = from_float<T>(y);
  };
  if (kCached) {
#pragma unroll
    for (int k = 0; k < kLnPerThread; ++k) {
      int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
      if (c < cols) emit(c, vals[k]);
    }
  } else {
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) emit(c, input(c));
  }
}

}  // namespace
}  // namespace cuda

void add_layer_norm_cuda(const TensorView& x, const TensorView* residual, const TensorView* x_bias,
                         const TensorView* weight, const TensorView* bias, const TensorView& out, double eps,
                         void* stream) {
  cuda::run_checked("add_layer_norm_cuda", [&] {
    cuda::check_float_dtype(x, "x");
    const auto shape = add_layer_norm_check(x, residual, x_bias, weight, bias, out, eps, x.dtype, cuda::kOnCpu);
    const int64_t rows = shape.first, cols = shape.second;
    if (rows == 0) return;
    TF_CHECK(rows <= 0x7fffffff, "x: at most 2^31 - 1 rows");
    cuda::dispatch_float(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      auto p = [](const TensorView* t) { return t ? t->ptr<const T>() : nullptr; };
      int64_t per_thread = cuda::ceil_div(cols, cuda::kLnPerThread);
      int threads = static_cast<int>(std::min<int64_t>(1024, cuda::ceil_div(per_thread, 32) * 32));
      dim3 grid(static_cast<unsigned>(rows)), block(threads);
      size_t smem = 32 * sizeof(float);
      if (cols <= int64_t{1024} * cuda::kLnPerThread)
        TF_LAUNCH(grid, block, smem, cuda::as_stream(stream), cuda::add_layer_norm_kernel<T, true>)(
            x.ptr<const T>(), p(x_bias), p(residual), p(weight), p(bias), out.ptr<T>(), cols, static_cast<float>(eps));
      else
        TF_LAUNCH(grid, block, smem, cuda::as_stream(stream), cuda::add_layer_norm_kernel<T, false>)(
            x.ptr<const T>(), p(x_bias), p(residual), p(weight), p(bias), out.ptr<T>(), cols, static_cast<float>(eps));
    });
  });
}

}  // namespace tf
