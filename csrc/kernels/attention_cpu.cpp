// Per (sequence, head): S = Q K^T with a register-blocked micro-kernel on a packed K^T, row softmax
// (scale, mask, limits), O = P V with a second micro-kernel reading V in place. Query rows go in
// blocks so that the score block stays in L2; threads split the (sequence, head) pairs.
#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/attention.h"
#include "kernels/softmax_row.h"

namespace tf {
namespace TF_ISA_NS {

using vec::VecF;

namespace {

#define TF_UNROLL _Pragma("GCC unroll 16")

constexpr int W = VecF::size;
constexpr int MR = 6;       // query rows per micro-tile
constexpr int NR = 2 * W;   // key columns per micro-tile (QK^T) / output columns (PV)
// Below this many queries, dot products straight from K beat packing K^T for the micro-kernel
// (12 heads x 64 at 8 tokens: 8.7 us vs 14.5 us on AMD AVX-512; equal near 14).
constexpr int64_t kDotMaxQueries = 14;

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Packs K[0:n, 0:D] (row stride ks) as K^T in panels of NR keys: kt[(p * D + d) * NR + c] =
// K[p * NR + c][d], zero past n.
void pack_kt(const float* k, int64_t ks, int64_t n, int64_t D, float* kt) {
  int64_t panels = (n + NR - 1) / NR;
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = kt + p * D * NR;
    for (int c = 0; c < NR; ++c) {
      int64_t j = p * NR + c;
      if (j < n) {
        const float* row = k + j * ks;
        for (int64_t d = 0; d < D; ++d) dst[d * NR + c] = row[d];
      } else {
        for (int64_t d = 0; d < D; ++d) dst[d * NR + c] = 0.0f;
      }
    }
  }
}

// s[r][0:NR] = sum_d q[r][d] * kt_panel[d][0:NR] for r < M.
// (The unroll pragmas let the compiler keep every accumulator in a register.)
template <int M>
inline void qk_tile(const float* q, int64_t qs, const float* kt, int64_t D, float* s, int64_t ss) {
  VecF acc0[M], acc1[M];
  TF_UNROLL
  for (int r = 0; r < M; ++r) acc0[r] = acc1[r] = VecF(0.0f);
  for (int64_t d = 0; d < D; ++d) {
    VecF b0 = VecF::load(kt + d * NR), b1 = VecF::load(kt + d * NR + W);
    TF_UNROLL
    for (int r = 0; r < M; ++r) {
      VecF a(q[r * qs + d]);
      acc0[r] = VecF::fmadd(a, b0, acc0[r]);
      acc1[r] = VecF::fmadd(a, b1, acc1[r]);
    }
  }
  TF_UNROLL
  for (int r = 0; r < M; ++r) {
    acc0[r].store(s + r * ss);
    acc1[r].store(s + r * ss + W);
  }
}

// o[r][c0 : c0 + NV*W] = rs[r] * sum_{j < n} p[r][j] * v[j][c0 : ...], the last vector masked to
// `tail` lanes (rs = the softmax 1/sum of each row).
template <int M, int NV>
inline void pv_tile(const float* p, int64_t ps, const float* v, int64_t vs, int64_t n, float* o, int64_t os,
                    const float* rs, int tail) {
  VecF acc[M][NV];
  TF_UNROLL
  for (int r = 0; r < M; ++r)
    TF_UNROLL
    for (int c = 0; c < NV; ++c) acc[r][c] = VecF(0.0f);
  for (int64_t j = 0; j < n; ++j) {
    const float* vr = v + j * vs;
    VecF b[NV];
    TF_UNROLL
    for (int c = 0; c < NV; ++c) b[c] = (c == NV - 1 && tail < W) ? VecF::load(vr + c * W, tail) : VecF::load(vr + c * W);
    TF_UNROLL
    for (int r = 0; r < M; ++r) {
      VecF a(p[r * ps + j]);
      TF_UNROLL
      for (int c = 0; c < NV; ++c) acc[r][c] = VecF::fmadd(a, b[c], acc[r][c]);
    }
  }
  TF_UNROLL
  for (int r = 0; r < M; ++r) {
    VecF scale(rs[r]);
    TF_UNROLL
    for (int c = 0; c < NV; ++c) {
      if (c == NV - 1 && tail < W) (acc[r][c] * scale).store(o + r * os + c * W, tail);
      else (acc[r][c] * scale).store(o + r * os + c * W);
    }
  }
}

template <int M>
void pv_rows(const float* p, int64_t ps, const float* v, int64_t vs, int64_t n, float* o, int64_t os, int64_t D,
             const float* rs) {
  int64_t c = 0;
  for (; c + 2 * W <= D; c += 2 * W) pv_tile<M, 2>(p, ps, v + c, vs, n, o + c, os, rs, W);
  for (; c + W <= D; c += W) pv_tile<M, 1>(p, ps, v + c, vs, n, o + c, os, rs, W);
  if (c < D) pv_tile<M, 1>(p, ps, v + c, vs, n, o + c, os, rs, static_cast<int>(D - c));
}

template <int M>
void qk_rows(const float* q, int64_t qs, const float* kt, int64_t cols_pad, int64_t D, float* s, int64_t ss) {
  for (int64_t c = 0; c < cols_pad; c += NR) qk_tile<M>(q, qs, kt + c * D, D, s + c, ss);
}

#define TF_DISPATCH_M(m, fn, ...)          \
  switch (m) {                             \
    case 1: fn<1>(__VA_ARGS__); break;     \
    case 2: fn<2>(__VA_ARGS__); break;     \
    case 3: fn<3>(__VA_ARGS__); break;     \
    case 4: fn<4>(__VA_ARGS__); break;     \
    case 5: fn<5>(__VA_ARGS__); break;     \
    default: fn<MR>(__VA_ARGS__); break;   \
  }

inline float dot(const float* a, const float* b, int64_t n) {
  VecF acc0(0.0f), acc1(0.0f);
  int64_t d = 0;
  for (; d + 2 * W <= n; d += 2 * W) {
    acc0 = VecF::fmadd(VecF::load(a + d), VecF::load(b + d), acc0);
    acc1 = VecF::fmadd(VecF::load(a + d + W), VecF::load(b + d + W), acc1);
  }
  for (; d + W <= n; d += W) acc0 = VecF::fmadd(VecF::load(a + d), VecF::load(b + d), acc0);
  if (d < n) {
    int t = static_cast<int>(n - d);
    acc1 = VecF::fmadd(VecF::load(a + d, t), VecF::load(b + d, t), acc1);
  }
  return (acc0 + acc1).reduce_add();
}

struct Scratch {
  std::vector<float> kt, s, row_inv;
};

// One (sequence, head) pair: q [Sq, D], k/v [Sk, D] (row strides), out [Sq, D].
void attend(const AttentionArgs& a, const float* q, const float* k, const float* v, float* out,
            const float* mask, int64_t sq, int64_t sk, Scratch& buf) {
  const int64_t D = a.head_dim, qs = a.q.row_stride, ks = a.k.row_stride, vs = a.v.row_stride;
  const int64_t os = a.out_row_stride, ms = a.mask.row_stride;
  const int64_t offset = sk - sq;  // causal: key j allowed for query i iff j <= i + offset
  auto valid_keys = [&](int64_t i) { return a.causal ? std::min(sk, std::max<int64_t>(i + offset + 1, 0)) : sk; };

  if (sq < kDotMaxQueries) {
    // Few queries (decoding, short sequences): dot products straight from K, no packing.
    buf.s.resize(std::max<int64_t>(sk, 1));
    float* s = buf.s.data();
    for (int64_t i = 0; i < sq; ++i) {
      int64_t n = valid_keys(i);
      for (int64_t j = 0; j < n; ++j) s[j] = dot(q + i * qs, k + j * ks, D);
      float inv = softmax_row<true, false>(s, s, n, n, a.scale, mask ? mask + i * ms : nullptr);
      pv_rows<1>(s, 0, v, vs, n, out + i * os, os, D, &inv);
    }
    return;
  }

  const int64_t kmax = valid_keys(sq - 1);  // keys any query may see
  const int64_t kpad = round_up(std::max<int64_t>(kmax, 1), NR);
  buf.kt.resize(kpad * D);
  pack_kt(k, ks, kmax, D, buf.kt.data());
  // Query block so that its score rows stay in L2 (~128 KB).
  int64_t block = std::max<int64_t>(MR, std::min<int64_t>(96, 32768 / kpad) / MR * MR);
  buf.s.resize(block * kpad);
  buf.row_inv.resize(block);
  float* s = buf.s.data();
  float* row_inv = buf.row_inv.data();
  for (int64_t i0 = 0; i0 < sq; i0 += block) {
    const int64_t rows = std::min(block, sq - i0);
    const int64_t ncols = valid_keys(i0 + rows - 1);
    const int64_t cols_pad = round_up(std::max<int64_t>(ncols, 1), NR);
    for (int64_t r = 0; r < rows; r += MR) {
      int m = static_cast<int>(std::min<int64_t>(MR, rows - r));
      TF_DISPATCH_M(m, qk_rows, q + (i0 + r) * qs, qs, buf.kt.data(), cols_pad, D, s + r * kpad, kpad);
    }
    for (int64_t r = 0; r < rows; ++r) {
      int64_t i = i0 + r;
      float* row = s + r * kpad;
      row_inv[r] = softmax_row<true, false>(row, row, valid_keys(i), ncols, a.scale, mask ? mask + i * ms : nullptr);
    }
    for (int64_t r = 0; r < rows; r += MR) {
      int m = static_cast<int>(std::min<int64_t>(MR, rows - r));
      TF_DISPATCH_M(m, pv_rows, s + r * kpad, kpad, v, vs, ncols, out + (i0 + r) * os, os, D, row_inv + r);
    }
  }
}

}  // namespace

void attention_cpu(const AttentionArgs& a) {
  const int64_t pairs = a.batch * a.heads;
  // At least ~64K multiply-adds of QK^T per task, so that waking a thread pays off (a decode step's
  // heads over a short cache run on the calling thread).
  const int64_t pair_work = std::max<int64_t>(1, a.q_len * a.k_len * a.head_dim);
  parallel_for(pairs, std::max<int64_t>(1, 65536 / pair_work), [&](int64_t p0, int64_t p1) {
    thread_local Scratch buf;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / a.heads, h = p % a.heads;
      int64_t q0 = 0, sq = a.q_len, sk = a.k_len;
      if (a.cu_seqlens) {
        q0 = a.cu_seqlens[b];
        sq = sk = a.cu_seqlens[b + 1] - q0;
      } else if (a.kv_lengths) {
        sk = a.kv_lengths[b];
      }
      if (sq == 0) continue;
      auto at = [&](const AttnOperand& t) { return t.data + b * t.batch_stride + h * t.head_stride + q0 * t.row_stride; };
      float* out = a.out + b * a.out_batch_stride + h * a.out_head_stride + q0 * a.out_row_stride;
      const float* mask = a.mask.data ? at(a.mask) : nullptr;
      if (sk == 0) {
        for (int64_t i = 0; i < sq; ++i) std::fill(out + i * a.out_row_stride, out + i * a.out_row_stride + a.head_dim, 0.0f);
        continue;
      }
      attend(a, at(a.q), at(a.k), at(a.v), out, mask, sq, sk, buf);
    }
  });
}

}  // namespace TF_ISA_NS
}  // namespace tf
