// Relative-position attention of Transformer-XL and XLNet on CUDA (the semantics of relative_attention.h):
// score[i][j] = ((q_i + r_w_bias)·k_j + bd[i][j] [+ (q_i + r_s_bias)·seg_embed[seg_ij]]) * scale, -1e30 where
// masked, softmax over j, times v; fp32 scores, online softmax and accumulation, no tensor cores (the emulated
// build runs this same code).
//
// A block takes kRows query rows of one (batch, head); each of its kWarps warps owns kRowsPerWarp rows. Keys
// come in tiles of 32 (lane j scores key t0 + j). The references' rel_shift is read as a gather: row i reads
// r at column c = j + off - i (off = qlen for XLNet, qlen - 1 for Transformer-XL), so the kRows rows of a block
// read, over one key tile, the kTile + kRows - 1 consecutive r rows that end at t0 + 31 + off - q0: those are
// staged in shared memory beside the K and V tiles, and lane j of row `row` reads window row
// j + kRows - 1 - row. A column c >= rlen is where the references' reshape wraps into row i + 1 (see
// relative_attention.h); those keys are nearly always masked (the future keys of a causal mask), so they
// read r from global memory on their own.
#include <cmath>

#include "common/cuda_common.h"
#include "kernels/attention_cuda_tiles.h"
#include "kernels/relative_attention.h"

namespace tf {
namespace cuda {
namespace {

constexpr int kWindow = kTile + kRows - 1;  // r rows a tile's gather reads for the block's rows
constexpr float kMasked = -1e30f;           // what both references give a masked key

struct Map {  // uint8 [batch or 1, qlen, klen], klen contiguous; data == nullptr: none
  const uint8_t* data;
  int64_t batch_stride, row_stride;
};

struct RelParams {
  Operand q, k, v, r;                        // [len, batch, heads, D]
  Operand r_w_bias, r_r_bias, r_s_bias;      // [heads, D]
  Operand seg_embed;                         // [2, heads, D]: row_stride steps the segment
  Map mask, seg;
  void* out;                                 // [qlen, batch, heads, D], contiguous
  int64_t qlen, klen, rlen, batch, heads;
  int64_t off;                               // bd[i][j] = raw[i][j + off - i] while that column is < rlen
  int64_t wrap_pad;                          // Transformer-XL's zero column: the wrap reads column c - rlen - 1
  int head_dim;
  float scale;
};

inline size_t smem_bytes(int head_dim) {
  const size_t D = static_cast<size_t>(head_dim);
  return sizeof(float) * (kRows * D + (kRows + 1) * D + kTile * (D + 1) + kWindow * (D + 1) + kTile * D +
                          kWarps * kTile);
}

template <typename T>
__device__ __forceinline__ const T* at(const Operand& o, int64_t b, int64_t h) {
  return static_cast<const T*>(o.data) + b * o.batch_stride + h * o.head_stride;
}

template <typename T, int NC>
__global__ void __launch_bounds__(kWarps * 32) relative_attention_kernel(RelParams p) {
  TF_DYNAMIC_SMEM(float, smem);
  const int D = p.head_dim;
  float* qw_s = smem;                      // [kRows][D]: q + r_w_bias
  float* qr_s = qw_s + kRows * D;          // [kRows + 1][D]: q + r_r_bias (one row more, for the wrap)
  float* k_s = qr_s + (kRows + 1) * D;     // [kTile][D + 1] (padded: lane j reads row j without bank conflicts)
  float* r_s = k_s + kTile * (D + 1);      // [kWindow][D + 1]
  float* v_s = r_s + kWindow * (D + 1);    // [kTile][D]
  float* p_s = v_s + kTile * D;            // [kWarps][kTile]: a row's probabilities, read by every lane
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t b = blockIdx.z, h = blockIdx.y;
  const int64_t q0 = static_cast<int64_t>(blockIdx.x) * kRows;
  const int64_t qlen = p.qlen, klen = p.klen, rlen = p.rlen;

  const T* qg = at<T>(p.q, b, h);
  const T* kg = at<T>(p.k, b, h);
  const T* vg = at<T>(p.v, b, h);
  const T* rg = at<T>(p.r, b, h);
  const T* rw = at<T>(p.r_w_bias, 0, h);
  const T* rr = at<T>(p.r_r_bias, 0, h);
  const uint8_t* mg = p.mask.data ? p.mask.data + b * p.mask.batch_stride : nullptr;
  const uint8_t* sg = p.seg.data ? p.seg.data + b * p.seg.batch_stride : nullptr;

  for (int idx = threadIdx.x; idx < (kRows + 1) * D; idx += blockDim.x) {
    const int row = idx / D, d = idx - row * D;
    const int64_t i = q0 + row;
    const float qv = i < qlen ? to_float(qg[i * p.q.row_stride + d]) : 0.0f;
    if (row < kRows) qw_s[idx] = i < qlen ? qv + to_float(rw[d]) : 0.0f;
    qr_s[idx] = i < qlen ? qv + to_float(rr[d]) : 0.0f;
  }

  // XLNet's segment term depends on the row and on whether the key is in the other segment only:
  // ef[r][s] = (q_i + r_s_bias)·seg_embed[s].
  float ef0[kRowsPerWarp], ef1[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    ef0[r] = ef1[r] = 0.0f;
    const int64_t i = q0 + warp * kRowsPerWarp + r;
    if (!sg || i >= qlen) continue;  // uniform in the warp
    const T* rs = at<T>(p.r_s_bias, 0, h);
    const T* se = at<T>(p.seg_embed, 0, h);
    float e0 = 0.0f, e1 = 0.0f;
    for (int d = lane; d < D; d += 32) {
      const float x = to_float(qg[i * p.q.row_stride + d]) + to_float(rs[d]);
      e0 += x * to_float(se[d]);
      e1 += x * to_float(se[p.seg_embed.row_stride + d]);
    }
    ef0[r] = warp_reduce(e0, SumOp());
    ef1[r] = warp_reduce(e1, SumOp());
  }

  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][NC];
  start_rows(m, l, acc);
  float* pw = p_s + warp * kTile;

  for (int64_t t0 = 0; t0 < klen; t0 += kTile) {
    __syncthreads();  // q rows written (first tile) / the previous tile read by every warp
    // r window: rows cbase .. cbase + kWindow - 1, zeros outside [0, rlen) (never read there).
    const int64_t cbase = t0 + p.off - (q0 + kRows - 1);
    for (int idx = threadIdx.x; idx < kWindow * D; idx += blockDim.x) {
      const int w = idx / D, d = idx - w * D;
      const int64_t c = cbase + w;
      r_s[w * (D + 1) + d] = c >= 0 && c < rlen ? to_float(rg[c * p.r.row_stride + d]) : 0.0f;
    }
    for (int idx = threadIdx.x; idx < kTile * D; idx += blockDim.x) {
      const int jj = idx / D, d = idx - jj * D;
      const int64_t j = t0 + jj;
      const bool in = j < klen;
      k_s[jj * (D + 1) + d] = in ? to_float(kg[j * p.k.row_stride + d]) : 0.0f;
      v_s[jj * D + d] = in ? to_float(vg[j * p.v.row_stride + d]) : 0.0f;
    }
#if !defined(TF_EMU_BREAK_SYNC)  // (the emulated broken-kernel test removes it: tests/cuda_emu/broken_kernels.cpp)
    __syncthreads();
#endif
    const int n = static_cast<int>(klen - t0 < kTile ? klen - t0 : kTile);
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int row = warp * kRowsPerWarp + r;
      const int64_t i = q0 + row;
      if (i >= qlen) continue;  // uniform in the warp
      const int64_t j = t0 + lane;
      float s = -INFINITY;
      if (j < klen) {
        if (mg && mg[i * p.mask.row_stride + j]) {
          s = kMasked;  // whatever the score (NaN too), as the references' masked_fill
        } else {
          const int64_t c = j + p.off - i;
          const float* qw = qw_s + row * D;
          const float* qr = qr_s + row * D;
          const float* kr = k_s + lane * (D + 1);
          float ac = 0.0f, bd = 0.0f;
          if (c < rlen) {
            const float* rrow = r_s + (lane + kRows - 1 - row) * (D + 1);
            for (int d = 0; d < D; ++d) {
              ac += qw[d] * kr[d];
              bd += qr[d] * rrow[d];
            }
          } else {
            for (int d = 0; d < D; ++d) ac += qw[d] * kr[d];
            // The reshape's wrap: row i + 1 (< qlen here), column c - rlen (XLNet) or c - rlen - 1 (TXL's pad
            // column, 0 at the pad).
            const int64_t c2 = c - rlen - p.wrap_pad;
            if (c2 >= 0) {
              const float* qn = qr + D;
              const T* rrow = rg + c2 * p.r.row_stride;
              for (int d = 0; d < D; ++d) bd += qn[d] * to_float(rrow[d]);
            }
          }
          s = ac + bd;
          if (sg) s += sg[i * p.seg.row_stride + j] ? ef1[r] : ef0[r];
          s *= p.scale;
        }
      }
      float pj;
      if (!online_softmax_tile(s, m[r], l[r], acc[r], pj)) continue;  // (scores that overflowed to -inf only)
      // The row's probabilities through shared memory: one warp barrier instead of a shuffle per key.
      __syncwarp();  // the previous row's reads are done
      pw[lane] = pj;
      __syncwarp();
      for (int jj = 0; jj < n; ++jj) add_weighted(acc[r], pw[jj], v_s + jj * D, D, lane);
    }
  }

  T* og = static_cast<T*>(p.out) + (b * p.heads + h) * D;
  const int64_t os = p.batch * p.heads * D;
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = q0 + warp * kRowsPerWarp + r;
    if (i >= qlen) continue;
    store_row<T, NC>(og + i * os, acc[r], l[r], D, lane);
  }
}

template <typename T, int NC>
void launch(const RelParams& p, Stream stream) {
  const size_t smem = smem_bytes(p.head_dim);
  if (smem > 48 * 1024) {
    cudaFuncSetAttribute(relative_attention_kernel<T, NC>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         static_cast<int>(smem));
  }
  dim3 grid(static_cast<unsigned>(ceil_div(p.qlen, kRows)), static_cast<unsigned>(p.heads),
            static_cast<unsigned>(p.batch));
  TF_LAUNCH(grid, dim3(kWarps * 32), smem, stream, relative_attention_kernel<T, NC>)(p);
}

}  // namespace
}  // namespace cuda

void relative_attention_cuda(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& r,
                             const TensorView& r_w_bias, const TensorView& r_r_bias, const TensorView& out,
                             const TensorView* mask, const TensorView* seg_diff, const TensorView* seg_embed,
                             const TensorView* r_s_bias, double scale, int64_t shift, void* stream) {
  cuda::run_checked("relative_attention_cuda", [&] {
    cuda::check_float_dtype(q, "q");
    RelativeAttentionArgs a = relative_attention_args(q, k, v, r, r_w_bias, r_r_bias, out, mask, seg_diff,
                                                      seg_embed, r_s_bias, scale, shift, q.dtype, cuda::kOnCpu);
    TF_CHECK(a.head_dim <= kRelativeAttentionCudaMaxHeadDim, "q: head_dim must be in [1, ",
             kRelativeAttentionCudaMaxHeadDim, "], got ", a.head_dim);
    if (a.qlen == 0 || a.batch == 0 || a.heads == 0) return;
    TF_CHECK(a.batch <= 65535 && a.heads <= 65535, "q: at most 65535 sequences and heads");
    using cuda::operand;
    cuda::RelParams p;
    p.q = operand(a.q), p.k = operand(a.k), p.v = operand(a.v), p.r = operand(a.r);
    p.r_w_bias = operand(a.r_w_bias), p.r_r_bias = operand(a.r_r_bias), p.r_s_bias = operand(a.r_s_bias);
    p.seg_embed = operand(a.seg_embed);
    p.mask = cuda::Map{a.mask.data, a.mask.batch_stride, a.mask.row_stride};
    p.seg = cuda::Map{a.seg.data, a.seg.batch_stride, a.seg.row_stride};
    p.out = a.out;
    p.qlen = a.qlen, p.klen = a.klen, p.rlen = a.rlen, p.batch = a.batch, p.heads = a.heads;
    p.off = a.shift == RelShift::xlnet ? a.qlen : a.qlen - 1;
    p.wrap_pad = a.shift == RelShift::transfo_xl ? 1 : 0;
    p.head_dim = static_cast<int>(a.head_dim);
    p.scale = a.scale;
    cuda::Stream s = cuda::as_stream(stream);
    cuda::dispatch_float(q.dtype, [&](auto tag) {
      cuda::dispatch_head_slices(a.head_dim, [&](auto nc) { cuda::launch<decltype(tag), decltype(nc)::value>(p, s); });
    });
  });
}

}  // namespace tf
