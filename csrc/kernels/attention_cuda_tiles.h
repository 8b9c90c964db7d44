// What the CUDA attention kernels share (attention_cuda.cu, relative_attention_cuda.cu): the block shape (kWarps
// warps, kRowsPerWarp query rows each, key tiles of 32 keys, one per lane), strided operands, the online softmax
// step over one key tile (flash-attention style, fp32) and the head_dim dispatch (a lane holds NC 32-column
// slices of a row's accumulator).
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "common/cuda_common.h"
#include "kernels/attention.h"  // AttnOperand

namespace tf {
namespace cuda {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 4;
constexpr int kRows = kWarps * kRowsPerWarp;  // query rows per block
constexpr int kTile = 32;                     // keys per tile (one per lane)

struct Operand {  // in the kernel's dtype; strides in elements, last dim contiguous
  const void* data;
  int64_t batch_stride, head_stride, row_stride;
};

inline Operand operand(const AttnOperand& o) { return Operand{o.data, o.batch_stride, o.head_stride, o.row_stride}; }

// The running state of a warp's R query rows: max -inf, sum 0, accumulator 0.
template <int R, int NC>
__device__ __forceinline__ void start_rows(float (&m)[R], float (&l)[R], float (&acc)[R][NC]) {
#pragma unroll
  for (int r = 0; r < R; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int c = 0; c < NC; ++c) acc[r][c] = 0.0f;
  }
}

// acc += w * value[lane + 32c] for the lane's columns < D (value: fp32 in shared memory, or T in global memory).
template <int NC, typename V>
__device__ __forceinline__ void add_weighted(float (&acc)[NC], float w, const V* value, int D, int lane) {
#pragma unroll
  for (int c = 0; c < NC; ++c) {
    const int d = lane + 32 * c;
    if (d < D) acc[c] += w * to_float(value[d]);
  }
}

// One key tile of a query row: lane j holds key j's score s (-inf where no key). Updates the row's running max
// m and sum l, rescales its accumulator acc, and sets p to lane j's weight exp(s - m); false, and nothing
// changed, while every score so far is -inf (warp-uniform: the caller may skip the tile).
template <int NC>
__device__ __forceinline__ bool online_softmax_tile(float s, float& m, float& l, float (&acc)[NC], float& p) {
  const float m_new = nan_max(m, warp_reduce(s, MaxOp()));
  if (m_new == -INFINITY) return false;
  const float corr = expf(m - m_new);
  p = expf(s - m_new);
  l = l * corr + warp_reduce(p, SumOp());
  m = m_new;
#pragma unroll
  for (int c = 0; c < NC; ++c) acc[c] *= corr;
  return true;
}

// out[d] = acc / l for the lane's columns d = lane + 32c < D; zeros where l == 0 (no key, or only -inf scores,
// as SDPA); a NaN anywhere in the row stays NaN.
template <typename T, int NC>
__device__ __forceinline__ void store_row(T* out, const float (&acc)[NC], float l, int D, int lane) {
  const float inv = l == 0.0f ? 0.0f : 1.0f / l;
#pragma unroll
  for (int c = 0; c < NC; ++c) {
    const int d = lane + 32 * c;
    if (d < D) out[d] = from_float<T>(l == 0.0f ? 0.0f : acc[c] * inv);
  }
}

// f(std::integral_constant<int, NC>{}) with NC the 32-column slices a lane holds for head_dim <= 256.
template <typename F>
void dispatch_head_slices(int64_t head_dim, F&& f) {
  if (head_dim <= 32) f(std::integral_constant<int, 1>{});
  else if (head_dim <= 64) f(std::integral_constant<int, 2>{});
  else if (head_dim <= 128) f(std::integral_constant<int, 4>{});
  else f(std::integral_constant<int, 8>{});
}

}  // namespace cuda
}  // namespace tf
