// GELU and bias+GELU on CUDA (erf form and tanh form), float32 / float16 / bfloat16, fp32 math.
#include "common/cuda_common.h"
#include "kernels/activation.h"

namespace tf {
namespace cuda {
namespace {

template <bool kTanh>
__device__ __forceinline__ float gelu_f(float v) {
  if (kTanh) return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
}

// One thread per element, grid-stride; bias indexed by the column.
template <typename T, bool kTanh, bool kBias>
__global__ void __launch_bounds__(256) gelu_kernel(const T* __restrict__ x,     // [rows, cols]
                                                   const T* __restrict__ bias,  // [cols] or nullptr
                                                   T* __restrict__ out,         // [rows, cols]
                                                   int64_t n, int64_t cols) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float v = to_float(x[i]);
    if (kBias) v += to_float(bias[i % cols]);
    out[i] = from_float<T>(gelu_f<kTanh>(v));
  }
}

template <typename T, bool kTanh>
void launch(const T* x, const T* bias, T* out, int64_t n, int64_t cols, Stream stream) {
  constexpr int kThreads = 256;
  int64_t blocks = ceil_div(n, kThreads);
  if (blocks > 65535 * 8) blocks = 65535 * 8;  // grid-stride beyond
  if (bias)
    TF_LAUNCH(dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream, gelu_kernel<T, kTanh, true>)(x, bias, out, n, cols);
  else
    TF_LAUNCH(dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream, gelu_kernel<T, kTanh, false>)(x, bias, out, n, cols);
}

}  // namespace
}  // namespace cuda

void gelu_cuda(const TensorView& x, const TensorView* bias, const TensorView& out, GeluKind kind, void* stream) {
  cuda::run_checked(bias ? "bias_gelu_cuda" : "gelu_cuda", [&] {
    cuda::check_float_dtype(x, "x");
    RowsCols rc = gelu_check(x, bias, out, x.dtype, cuda::kOnCpu);
    int64_t n = rc.rows * rc.cols;
    if (n == 0) return;
    cuda::dispatch_float(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      const T* b = bias ? bias->ptr<const T>() : nullptr;
      if (kind == GeluKind::tanh)
        cuda::launch<T, true>(x.ptr<const T>(), b, out.ptr<T>(), n, rc.cols, cuda::as_stream(stream));
      else
        cuda::launch<T, false>(x.ptr<const T>(), b, out.ptr<T>(), n, rc.cols, cuda::as_stream(stream));
    });
  });
}

}  // namespace tf
