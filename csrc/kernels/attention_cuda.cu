// Fused multi-head attention on CUDA: out = softmax(q k^T * scale + mask, causal/length limits) v.
// Tiled with an online softmax (flash-attention style) and fp32 accumulation, no tensor cores (the
// emulated build runs this same code). Padded [batch, heads, seq, head_dim] (any strides, last dim
// contiguous; kv_lengths for a preallocated KV cache, decode = one query row) and packed varlen
// [tokens, heads, head_dim] with cu_seqlens.
//
// A block takes kRows query rows of one (sequence, head): each of its kWarps warps owns kRowsPerWarp rows.
// Key/value tiles of 32 keys are staged in shared memory as fp32; lane j scores key j of the tile against a
// row, the warp takes the tile's max and sum with shuffles, and every lane accumulates its 32-column slices
// of head_dim (NC of them) of p · V. One query row (decode) takes attention_decode_kernel: the warps split
// the keys instead of the rows.
#include <cmath>

#include "common/cuda_common.h"
#include "kernels/attention.h"
#include "kernels/attention_cuda_tiles.h"

namespace tf {
namespace cuda {
namespace {

struct AttnParams {
  Operand q, k, v, mask;  // mask.data == nullptr: none
  void* out;
  int64_t out_batch_stride, out_head_stride, out_row_stride;
  int64_t q_len, k_len;
  const int64_t* kv_lengths;  // [batch] or nullptr
  const int64_t* cu_seqlens;  // [batch + 1] or nullptr (packed)
  int64_t batch, tokens;      // packed: sequences, and rows of q/out (those after cu_seqlens[batch] are zeroed)
  int head_dim;
  bool causal;
  float scale;
};

inline size_t smem_bytes(int head_dim) {
  return sizeof(float) * (static_cast<size_t>(kRows) * head_dim + kTile * (head_dim + 1) +
                          static_cast<size_t>(kTile) * head_dim);
}

template <typename T, int NC>
__global__ void __launch_bounds__(kWarps * 32) attention_kernel(AttnParams p) {
  TF_DYNAMIC_SMEM(float, smem);
  const int D = p.head_dim;
  float* q_s = smem;                  // [kRows][D], fp32
  float* k_s = q_s + kRows * D;       // [kTile][D + 1] (padded: lane j reads row j without bank conflicts)
  float* v_s = k_s + kTile * (D + 1);  // [kTile][D]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t b = blockIdx.z, h = blockIdx.y;
  const int64_t q0 = static_cast<int64_t>(blockIdx.x) * kRows;

  if (p.cu_seqlens && b == p.batch) {  // the extra z: rows after the last sequence are zeros (read no offset back)
    T* og = static_cast<T*>(p.out) + h * p.out_head_stride;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t last = p.cu_seqlens[p.batch];  // (clamped as below)
    const int64_t end = last < 0 ? 0 : last > p.tokens ? p.tokens : last;
    for (int64_t idx = end * D + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         idx < p.tokens * D; idx += step) {
      const int64_t i = idx / D;
      og[i * p.out_row_stride + (idx - i * D)] = from_float<T>(0.0f);
    }
    return;
  }
  int64_t start = 0, sq = p.q_len, n_valid = p.k_len;
  if (p.cu_seqlens) {
    // Offsets a caller vouched for (max_seqlen given: not read back on the host) are clamped to the tokens, so
    // that bad ones give wrong rows, never accesses outside q, k, v and out.
    const int64_t lo = p.cu_seqlens[b], hi = p.cu_seqlens[b + 1];
    start = lo < 0 ? 0 : lo > p.tokens ? p.tokens : lo;
    sq = (hi < start ? start : hi > p.tokens ? p.tokens : hi) - start;
    n_valid = sq;
  } else if (p.kv_lengths) {
    n_valid = p.kv_lengths[b];
  }
  if (q0 >= sq) return;  // the whole block: no barrier is left waiting
  const T* qg = static_cast<const T*>(p.q.data) + b * p.q.batch_stride + h * p.q.head_stride + start * p.q.row_stride;
  const T* kg = static_cast<const T*>(p.k.data) + b * p.k.batch_stride + h * p.k.head_stride + start * p.k.row_stride;
  const T* vg = static_cast<const T*>(p.v.data) + b * p.v.batch_stride + h * p.v.head_stride + start * p.v.row_stride;
  const T* mg = p.mask.data ? static_cast<const T*>(p.mask.data) + b * p.mask.batch_stride + h * p.mask.head_stride
                            : nullptr;

  for (int idx = threadIdx.x; idx < kRows * D; idx += blockDim.x) {
    int r = idx / D, d = idx - r * D;
    int64_t i = q0 + r;
    q_s[idx] = i < sq ? to_float(qg[i * p.q.row_stride + d]) : 0.0f;
  }
  // Keys a row may see: j < limit(i), limit(i) = min(n_valid, i + n_valid - sq + 1) when causal.
  auto row_limit = [&](int64_t i) {
    int64_t limit = n_valid;
    if (p.causal) {
      int64_t c = i + (n_valid - sq) + 1;
      limit = c < limit ? c : limit;
    }
    return limit < 0 ? int64_t{0} : limit;
  };
  const int64_t last_row = (q0 + kRows < sq ? q0 + kRows : sq) - 1;
  const int64_t key_end = row_limit(last_row);

  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][NC];
  start_rows(m, l, acc);

  for (int64_t t0 = 0; t0 < key_end; t0 += kTile) {
    __syncthreads();  // q_s written (first tile) / the previous tile read by every warp
    for (int idx = threadIdx.x; idx < kTile * D; idx += blockDim.x) {
      int jj = idx / D, d = idx - jj * D;
      int64_t j = t0 + jj;
      bool in = j < key_end;
      k_s[jj * (D + 1) + d] = in ? to_float(kg[j * p.k.row_stride + d]) : 0.0f;
      v_s[jj * D + d] = in ? to_float(vg[j * p.v.row_stride + d]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int row = warp * kRowsPerWarp + r;
      const int64_t i = q0 + row;
      if (i >= sq) continue;  // uniform in the warp
      const int64_t limit = row_limit(i);
      if (t0 >= limit) continue;
      const int64_t j = t0 + lane;
      float s = -INFINITY;
      if (j < limit) {
        const float* qr = q_s + row * D;
        const float* kr = k_s + lane * (D + 1);
        float dot = 0.0f;
        for (int d = 0; d < D; ++d) dot += qr[d] * kr[d];
        s = dot * p.scale;
        if (mg) s += to_float(mg[i * p.mask.row_stride + j]);
      }
      float pj;
      if (!online_softmax_tile(s, m[r], l[r], acc[r], pj)) continue;  // nothing but -inf so far: p = 0 everywhere
      const int n = static_cast<int>(limit - t0 < kTile ? limit - t0 : kTile);
      for (int jj = 0; jj < n; ++jj) {
        add_weighted(acc[r], __shfl_sync(0xffffffffu, pj, jj), v_s + jj * D, D, lane);
      }
    }
  }

  T* og = static_cast<T*>(p.out) + b * p.out_batch_stride + h * p.out_head_stride + start * p.out_row_stride;
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = q0 + warp * kRowsPerWarp + r;
    if (i >= sq) continue;
    store_row<T, NC>(og + i * p.out_row_stride, acc[r], l[r], D, lane);
  }
}

// Decode: one query row per (sequence, head) over a KV cache. The block's warps split the key tiles (warp w
// takes tiles w, w + kWarps, ...), each with its own online softmax over a warp-private K tile in shared memory
// (V is read straight from global memory, coalesced over head_dim); the warps' partial (max, sum, p · V) are
// merged at the end.
inline size_t decode_smem_bytes(int head_dim) {
  return sizeof(float) * (static_cast<size_t>(head_dim) + static_cast<size_t>(kWarps) * kTile * (head_dim + 1) +
                          static_cast<size_t>(kWarps) * (head_dim + 2));
}

template <typename T, int NC>
__global__ void __launch_bounds__(kWarps * 32) attention_decode_kernel(AttnParams p) {
  TF_DYNAMIC_SMEM(float, smem);
  const int D = p.head_dim;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float* q_s = smem;                                           // [D]
  float* k_s = q_s + D + warp * kTile * (D + 1);               // this warp's [kTile][D + 1]
  float* part = q_s + D + kWarps * kTile * (D + 1);            // [kWarps][D + 2]: acc, then m and l
  const int64_t b = blockIdx.y, h = blockIdx.x;
  const int64_t n_valid = p.kv_lengths ? p.kv_lengths[b] : p.k_len;  // causal with one query: every valid key
  const T* qg = static_cast<const T*>(p.q.data) + b * p.q.batch_stride + h * p.q.head_stride;
  const T* kg = static_cast<const T*>(p.k.data) + b * p.k.batch_stride + h * p.k.head_stride;
  const T* vg = static_cast<const T*>(p.v.data) + b * p.v.batch_stride + h * p.v.head_stride;
  const T* mg = p.mask.data ? static_cast<const T*>(p.mask.data) + b * p.mask.batch_stride + h * p.mask.head_stride
                            : nullptr;
  for (int d = threadIdx.x; d < D; d += blockDim.x) q_s[d] = to_float(qg[d]);
  __syncthreads();
  float m = -INFINITY, l = 0.0f, acc[NC];
#pragma unroll
  for (int c = 0; c < NC; ++c) acc[c] = 0.0f;
  for (int64_t t0 = static_cast<int64_t>(warp) * kTile; t0 < n_valid; t0 += static_cast<int64_t>(kWarps) * kTile) {
    const int n = static_cast<int>(n_valid - t0 < kTile ? n_valid - t0 : kTile);
    __syncwarp();  // the previous tile is read by every lane
    for (int idx = lane; idx < n * D; idx += 32) {
      int jj = idx / D, d = idx - jj * D;
      k_s[jj * (D + 1) + d] = to_float(kg[(t0 + jj) * p.k.row_stride + d]);
    }
    __syncwarp();
    float s = -INFINITY;
    if (lane < n) {
      const float* kr = k_s + lane * (D + 1);
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += q_s[d] * kr[d];
      s = dot * p.scale;
      if (mg) s += to_float(mg[t0 + lane]);
    }
    float pj;
    if (!online_softmax_tile(s, m, l, acc, pj)) continue;
    for (int jj = 0; jj < n; ++jj) {
      add_weighted(acc, __shfl_sync(0xffffffffu, pj, jj), vg + (t0 + jj) * p.v.row_stride, D, lane);
    }
  }
  float* mine = part + warp * (D + 2);
#pragma unroll
  for (int c = 0; c < NC; ++c) {
    const int d = lane + 32 * c;
    if (d < D) mine[d] = acc[c];
  }
  if (lane == 0) {
    mine[D] = m;
    mine[D + 1] = l;
  }
  __syncthreads();
  if (warp != 0) return;
  float mt = -INFINITY;
  for (int w = 0; w < kWarps; ++w) mt = nan_max(mt, part[w * (D + 2) + D]);
  float lt = 0.0f, scale_w[kWarps];
  for (int w = 0; w < kWarps; ++w) {
    const float mw = part[w * (D + 2) + D];
    scale_w[w] = mw == -INFINITY ? 0.0f : expf(mw - mt);  // a warp without keys adds nothing
    lt += part[w * (D + 2) + D + 1] * scale_w[w];
  }
  T* og = static_cast<T*>(p.out) + b * p.out_batch_stride + h * p.out_head_stride;
#pragma unroll
  for (int c = 0; c < NC; ++c) {
    const int d = lane + 32 * c;
    if (d >= D) continue;
    float v = 0.0f;
    for (int w = 0; w < kWarps; ++w) v += part[w * (D + 2) + d] * scale_w[w];
    // No allowed key, or only -inf scores: zeros (as SDPA); a NaN anywhere stays NaN.
    og[d] = from_float<T>(lt == 0.0f ? 0.0f : v / lt);
  }
}

template <typename T, int NC>
void launch(const AttnParams& p, int64_t batch, int64_t heads, Stream stream) {
  if (p.q_len == 1 && !p.cu_seqlens) {  // decode over a KV cache
    size_t smem = decode_smem_bytes(p.head_dim);
    if (smem > 48 * 1024) {
      cudaFuncSetAttribute(attention_decode_kernel<T, NC>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(smem));
    }
    TF_LAUNCH(dim3(static_cast<unsigned>(heads), static_cast<unsigned>(batch)), dim3(kWarps * 32), smem, stream,
              attention_decode_kernel<T, NC>)(p);
    return;
  }
  size_t smem = smem_bytes(p.head_dim);
  if (smem > 48 * 1024) {
    cudaFuncSetAttribute(attention_kernel<T, NC>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  }
  // Packed: one more z for the rows after the last sequence.
  dim3 grid(static_cast<unsigned>(ceil_div(p.q_len, kRows) > 0 ? ceil_div(p.q_len, kRows) : 1),
            static_cast<unsigned>(heads), static_cast<unsigned>(p.cu_seqlens ? batch + 1 : batch));
  TF_LAUNCH(grid, dim3(kWarps * 32), smem, stream, attention_kernel<T, NC>)(p);
}

}  // namespace
}  // namespace cuda

void attention_cuda(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                    const TensorView* mask, const TensorView* kv_lengths, const TensorView* cu_seqlens,
                    int64_t max_seqlen, double scale, bool causal, void* stream) {
  cuda::run_checked("attention_cuda", [&] {
    cuda::check_float_dtype(q, "q");
    AttentionArgs a = attention_args(q, k, v, out, mask, kv_lengths, cu_seqlens, scale, causal, q.dtype,
                                     cuda::kOnCpu, max_seqlen);
    TF_CHECK(a.head_dim >= 1 && a.head_dim <= kAttentionCudaMaxHeadDim, "q: head_dim must be in [1, ",
             kAttentionCudaMaxHeadDim, "], got ", a.head_dim);
    // (packed with max_seqlen 0 still launches: the rows after the last offset are zeroed)
    if (a.heads == 0 || q.numel() == 0 || (!a.cu_seqlens && (a.batch == 0 || a.q_len == 0))) return;
    TF_CHECK(a.batch + (a.cu_seqlens ? 1 : 0) <= 65535 && a.heads <= 65535, "q: at most 65535 sequences and heads");
    cuda::AttnParams p;
    p.q = cuda::operand(a.q);
    p.k = cuda::operand(a.k);
    p.v = cuda::operand(a.v);
    p.mask = cuda::operand(a.mask);
    p.out = a.out;
    p.out_batch_stride = a.out_batch_stride;
    p.out_head_stride = a.out_head_stride;
    p.out_row_stride = a.out_row_stride;
    p.q_len = a.q_len;
    p.k_len = a.k_len;
    p.kv_lengths = a.kv_lengths;
    p.cu_seqlens = a.cu_seqlens;
    p.batch = a.batch;
    p.tokens = q.size(0);
    p.head_dim = static_cast<int>(a.head_dim);
    p.causal = a.causal;
    p.scale = a.scale;
    cuda::Stream s = cuda::as_stream(stream);
    cuda::dispatch_float(q.dtype, [&](auto tag) {
      cuda::dispatch_head_slices(a.head_dim, [&](auto nc) {
        cuda::launch<decltype(tag), decltype(nc)::value>(p, a.batch, a.heads, s);
      });
    });
  });
}

}  // namespace tf
