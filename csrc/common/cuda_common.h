// What every csrc/kernels/<op>_cuda.cu shares: the CUDA headers under nvcc or the SIMT emulation
// (cuda_emu.h) under a host compiler, dtype conversions, warp/block reductions and the host-side launch and
// error helpers. Kernels launch with TF_LAUNCH(grid, block, smem, stream, kernel<...>)(args...): the
// triple-chevron launch under nvcc, the emulator otherwise (the kernel comes last so that template
// arguments with commas need no parentheses).
#pragma once
#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define TF_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<(grid), (block), (smem), (stream)>>>
#define TF_DYNAMIC_SMEM(type, name)                                    \
  extern __shared__ __align__(16) unsigned char tf_dynamic_smem_[]; \
  type* name = reinterpret_cast<type*>(tf_dynamic_smem_)
#else
#include "common/cuda_emu.h"
#endif

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/tensor_view.h"

namespace tf {
namespace cuda {

// Where the CUDA entry points take their tensors: on the GPU, or in host memory in the emulated build.
#if defined(TF_CUDA_EMU)
constexpr bool kOnCpu = true;
#else
constexpr bool kOnCpu = false;
#endif

// ---- device side ----
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16(v); }

// max that keeps a NaN (fmaxf drops it): a NaN score must give a NaN row, as torch's softmax.
__device__ __forceinline__ float nan_max(float a, float b) { return (a > b || a != a) ? a : b; }

// TF_EMU_BREAK_SHFL / TF_EMU_BREAK_SYNC build deliberately broken reductions (the emulated tests check that
// they give wrong results); never defined in a real build.
#if defined(TF_EMU_BREAK_SHFL)
#define TF_WARP_FIRST_OFFSET 8
#else
#define TF_WARP_FIRST_OFFSET 16
#endif

struct SumOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return nan_max(a, b); }
};

template <typename Op>
__device__ __forceinline__ float warp_reduce(float v, Op op) {
#pragma unroll
  for (int offset = TF_WARP_FIRST_OFFSET; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Every thread of the block gets op over the block's values. blockDim.x is a multiple of 32 (<= 1024);
// scratch: 32 floats of shared memory, free again when this returns.
template <typename Op>
__device__ __forceinline__ float block_reduce(float v, float* scratch, Op op, float identity) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_reduce(v, op);
  if (lane == 0) scratch[warp] = v;
#if !defined(TF_EMU_BREAK_SYNC)
  __syncthreads();
#endif
  v = warp_reduce(lane < warps ? scratch[lane] : identity, op);
  __syncthreads();  // scratch may be written again after this
  return v;
}

// ---- host side ----
using Stream = cudaStream_t;
inline Stream as_stream(void* s) { return reinterpret_cast<Stream>(s); }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Runs the argument checks and the launch of one entry point: argument errors name the kernel (ValueError in
// Python), and so do launch errors (RuntimeError).
template <typename F>
void run_checked(const char* kernel, F&& body) {
  try {
    body();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(kernel) + ": " + e.what());
  }
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(kernel) + ": launch failed: " + cudaGetErrorString(err));
}

// The kernels take float32, float16 and bfloat16; every other tensor of a call has the dtype of this one.
inline void check_float_dtype(const TensorView& t, const char* name) {
  TF_CHECK(t.dtype == DType::f32 || t.dtype == DType::f16 || t.dtype == DType::bf16, name,
           ": expected float32, float16 or bfloat16, got ", dtype_name(t.dtype));
}

// Calls f(T{}) with T the storage type of dtype (float, __half, __nv_bfloat16).
template <typename F>
void dispatch_float(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: f(float{}); return;
    case DType::f16: f(__half{}); return;
    case DType::bf16: f(__nv_bfloat16{}); return;
    default: fail("expected float32, float16 or bfloat16, got ", dtype_name(dtype));
  }
}

}  // namespace cuda
}  // namespace tf
