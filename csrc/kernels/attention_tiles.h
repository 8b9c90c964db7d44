// Register-tiled micro-kernels shared by the attention and relative_attention kernels (included by
// *_cpu.cpp only, inside their per-ISA namespace): S = Q K^T tiles on a transposed K, O = P V tiles
// reading V in place, and a plain dot product. Q K^T runs on fp32 operands (K^T is packed to fp32, a bf16 Q
// converted first); V, the output and the dot product's operands may be float or bf16 (vec::load/store).
#pragma once
#include <cstdint>

#include "common/vec.h"

namespace tf {
namespace TF_ISA_NS {
namespace tiles {

using vec::VecF;

#define TF_UNROLL _Pragma("GCC unroll 16")

constexpr int W = VecF::size;
constexpr int MR = 6;       // query rows per micro-tile
constexpr int NR = 2 * W;   // key columns per micro-tile (QK^T) / output columns (PV)

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Asks for the cache lines of row[0:n] ahead of use: rows of a sequence-first [len, batch, heads, D] tensor
// lie batch * heads * D floats apart, a stride the hardware prefetchers do not follow.
template <typename T>
inline void prefetch_row(const T* row, int64_t n) {
  for (int64_t d = 0; d < n; d += 64 / sizeof(T)) __builtin_prefetch(row + d);
}

// dst[d * ldd + c] = src[c * lds + d] for c < rows, d < cols (src float or bf16, dst fp32). In 8x8 blocks
// through AVX registers where the ISA has them: element by element, transposing was ~15% of relative
// attention's time.
template <typename T>
inline void transpose(const T* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  int64_t c0 = 0;
#if defined(__AVX2__)
  for (; c0 + 8 <= rows; c0 += 8) {
    for (int64_t i = c0 + 8; i < c0 + 16 && i < rows; ++i) prefetch_row(src + i * lds, cols);
    int64_t d0 = 0;
    for (; d0 + 8 <= cols; d0 += 8) {
      __m256 x[8], t[8];
      for (int i = 0; i < 8; ++i) x[i] = vec::load8(src + (c0 + i) * lds + d0);
      for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(x[i], x[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(x[i], x[i + 1]);
      }
      for (int i = 0; i < 8; i += 4) {
        x[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        x[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        x[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        x[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
      }
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(dst + (d0 + i) * ldd + c0, _mm256_permute2f128_ps(x[i], x[i + 4], 0x20));
        _mm256_storeu_ps(dst + (d0 + i + 4) * ldd + c0, _mm256_permute2f128_ps(x[i], x[i + 4], 0x31));
      }
    }
    for (; d0 < cols; ++d0)
      for (int i = 0; i < 8; ++i) dst[d0 * ldd + c0 + i] = vec::to_float(src[(c0 + i) * lds + d0]);
  }
#endif
  for (; c0 < rows; ++c0)
    for (int64_t d = 0; d < cols; ++d) dst[d * ldd + c0] = vec::to_float(src[c0 * lds + d]);
}

// n keys as panels of NR columns, `depth` rows each (row stride NR): transpose_keys(first, count, panel) fills
// the first `count` columns of a panel, the rest is zeroed.
template <typename Dst, typename Transpose>
inline void pack_key_panels(int64_t n, int64_t depth, Dst* out, Transpose&& transpose_keys) {
  const int64_t panels = (n + NR - 1) / NR;
  for (int64_t p = 0; p < panels; ++p) {
    Dst* dst = out + p * depth * NR;
    const int64_t cols = n - p * NR < NR ? n - p * NR : NR;
    transpose_keys(p * NR, cols, dst);
    for (int64_t d = 0; d < depth; ++d)
      for (int64_t c = cols; c < NR; ++c) dst[d * NR + c] = Dst(0);
  }
}

// Packs K[0:n, 0:D] (row stride ks) as K^T in panels of NR keys: kt[(p * D + d) * NR + c] =
// K[p * NR + c][d], zero past n.
template <typename T>
inline void pack_kt(const T* k, int64_t ks, int64_t n, int64_t D, float* kt) {
  pack_key_panels(n, D, kt, [&](int64_t first, int64_t count, float* dst) {
    transpose(k + first * ks, ks, count, D, dst, NR);
  });
}

// s[r][0:NV*W] = sum_d q[r][d] * kt[d * ldk][0:NV*W] for r < M (kt: NV*W columns of a transposed K whose
// rows are ldk apart: NR in a pack_kt panel). Each lane sums over d in the same order whatever M, NV
// and the column offset, so a score does not depend on the tiling.
// (The unroll pragmas let the compiler keep every accumulator in a register.)
template <int M, int NV = 2>
inline void qk_tile(const float* q, int64_t qs, const float* kt, int64_t ldk, int64_t D, float* s, int64_t ss) {
  VecF acc[M][NV];
  TF_UNROLL
  for (int r = 0; r < M; ++r)
    TF_UNROLL
    for (int c = 0; c < NV; ++c) acc[r][c] = VecF(0.0f);
  for (int64_t d = 0; d < D; ++d) {
    VecF b[NV];
    TF_UNROLL
    for (int c = 0; c < NV; ++c) b[c] = VecF::load(kt + d * ldk + c * W);
    TF_UNROLL
    for (int r = 0; r < M; ++r) {
      VecF a(q[r * qs + d]);
      TF_UNROLL
      for (int c = 0; c < NV; ++c) acc[r][c] = VecF::fmadd(a, b[c], acc[r][c]);
    }
  }
  TF_UNROLL
  for (int r = 0; r < M; ++r)
    TF_UNROLL
    for (int c = 0; c < NV; ++c) acc[r][c].store(s + r * ss + c * W);
}

// o[r][c0 : c0 + NV*W] = rs[r] * sum_{j < n} p[r][j] * v[j][c0 : ...], the last vector masked to
// `tail` lanes (rs = the softmax 1/sum of each row).
template <int M, int NV, typename TV, typename TO>
inline void pv_tile(const float* p, int64_t ps, const TV* v, int64_t vs, int64_t n, TO* o, int64_t os,
                    const float* rs, int tail) {
  VecF acc[M][NV];
  TF_UNROLL
  for (int r = 0; r < M; ++r)
    TF_UNROLL
    for (int c = 0; c < NV; ++c) acc[r][c] = VecF(0.0f);
  for (int64_t j = 0; j < n; ++j) {
    const TV* vr = v + j * vs;
    VecF b[NV];
    TF_UNROLL
    for (int c = 0; c < NV; ++c) b[c] = (c == NV - 1 && tail < W) ? vec::load(vr + c * W, tail) : vec::load(vr + c * W);
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
      if (c == NV - 1 && tail < W) vec::store(acc[r][c] * scale, o + r * os + c * W, tail);
      else vec::store(acc[r][c] * scale, o + r * os + c * W);
    }
  }
}

template <int M, typename TV, typename TO>
void pv_rows(const float* p, int64_t ps, const TV* v, int64_t vs, int64_t n, TO* o, int64_t os, int64_t D,
             const float* rs) {
  int64_t c = 0;
  for (; c + 2 * W <= D; c += 2 * W) pv_tile<M, 2>(p, ps, v + c, vs, n, o + c, os, rs, W);
  for (; c + W <= D; c += W) pv_tile<M, 1>(p, ps, v + c, vs, n, o + c, os, rs, W);
  if (c < D) pv_tile<M, 1>(p, ps, v + c, vs, n, o + c, os, rs, static_cast<int>(D - c));
}

// Scores of M query rows against the cols_pad (a multiple of NR) keys of a pack_kt K^T.
template <int M>
void qk_rows(const float* q, int64_t qs, const float* kt, int64_t cols_pad, int64_t D, float* s, int64_t ss) {
  for (int64_t c = 0; c < cols_pad; c += NR) qk_tile<M>(q, qs, kt + c * D, NR, D, s + c, ss);
}

// fn<m>(args...) for a run-time row count m in 1..MR.
#define TF_DISPATCH_M(m, fn, ...)          \
  switch (m) {                             \
    case 1: fn<1>(__VA_ARGS__); break;     \
    case 2: fn<2>(__VA_ARGS__); break;     \
    case 3: fn<3>(__VA_ARGS__); break;     \
    case 4: fn<4>(__VA_ARGS__); break;     \
    case 5: fn<5>(__VA_ARGS__); break;     \
    default: fn<tiles::MR>(__VA_ARGS__); break;   \
  }

template <typename TA, typename TB>
inline float dot(const TA* a, const TB* b, int64_t n) {
  VecF acc0(0.0f), acc1(0.0f);
  int64_t d = 0;
  for (; d + 2 * W <= n; d += 2 * W) {
    acc0 = VecF::fmadd(vec::load(a + d), vec::load(b + d), acc0);
    acc1 = VecF::fmadd(vec::load(a + d + W), vec::load(b + d + W), acc1);
  }
  for (; d + W <= n; d += W) acc0 = VecF::fmadd(vec::load(a + d), vec::load(b + d), acc0);
  if (d < n) {
    int t = static_cast<int>(n - d);
    acc1 = VecF::fmadd(vec::load(a + d, t), vec::load(b + d, t), acc1);
  }
  return (acc0 + acc1).reduce_add();
}

#if defined(TF_BF16_HW)
// ---- bf16 pairs for vdpbf16ps (avx512_bf16; the bf16_hw element type) ----
// A uint32 lane holds two bf16 along the reduced dimension (head_dim for Q K^T, keys for P V): vdpbf16ps adds
// both exact products to the fp32 accumulator of its lane, 32 multiply-adds per instruction instead of 16.
// Each lane still sums in a fixed order whatever the tiling, so scores and outputs do not depend on it.

inline uint32_t bf16_pair(bf16 lo, bf16 hi) { return lo.bits | (static_cast<uint32_t>(hi.bits) << 16); }

inline __m512 dp_bf16(__m512 acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }

// dst[e * ldd + c] = (src[c][2e], src[c][2e + 1]) for c < rows, e < ceil(D / 2) (src row stride lds; zero past D):
// the transpose of bf16 rows into d-pairs.
inline void transpose_pairs(const bf16* src, int64_t lds, int64_t rows, int64_t D, uint32_t* dst, int64_t ldd) {
  const int64_t DP = (D + 1) / 2;
  for (int64_t c = 0; c < rows; ++c) {
    const bf16* row = src + c * lds;
    if (c + 4 < rows) prefetch_row(row + 4 * lds, D);
    for (int64_t e = 0; e < D / 2; ++e) dst[e * ldd + c] = bf16_pair(row[2 * e], row[2 * e + 1]);
    if (D % 2) dst[(DP - 1) * ldd + c] = bf16_pair(row[D - 1], bf16{0});
  }
}

// K[0:n, 0:D] as panels of NR keys of d-pairs: kt[(p * DP + e) * NR + c] = (K[p NR + c][2e], K[p NR + c][2e + 1]),
// DP = ceil(D / 2), zero past n and D.
inline void pack_kt_pairs(const bf16* k, int64_t ks, int64_t n, int64_t D, uint32_t* kt) {
  pack_key_panels(n, (D + 1) / 2, kt, [&](int64_t first, int64_t count, uint32_t* dst) {
    transpose_pairs(k + first * ks, ks, count, D, dst, NR);
  });
}

// rows [rows][D] (row stride rs) as d-pairs: dst[r * DP + e] = (x[r][2e], x[r][2e + 1]), zero past D.
inline void pack_rows_pairs(const bf16* x, int64_t rs, int64_t rows, int64_t D, uint32_t* dst) {
  const int64_t DP = (D + 1) / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const bf16* row = x + r * rs;
    for (int64_t e = 0; e < D / 2; ++e) dst[r * DP + e] = bf16_pair(row[2 * e], row[2 * e + 1]);
    if (D % 2) dst[r * DP + DP - 1] = bf16_pair(row[D - 1], bf16{0});
  }
}

// fp32 rows (row stride xs) rounded to bf16 pairs: dst[r * ldd + e] = (x[r][2e], x[r][2e + 1]) for
// e < ceil(n / 2), zero past n (the probabilities of P V, the query rows plus a bias of relative attention).
inline void pack_rows_pairs(const float* x, int64_t xs, int64_t rows, int64_t n, uint32_t* dst, int64_t ldd) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * xs;
    uint32_t* d = dst + r * ldd;
    int64_t j = 0;
    for (; j + 2 * W <= n; j += 2 * W)  // 32 floats -> 16 pairs, in order
      _mm512_storeu_si512(d + j / 2,
                          (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + j + W), _mm512_loadu_ps(row + j)));
    if (j < n) {
      int t = static_cast<int>(n - j);
      __m512 lo = _mm512_maskz_loadu_ps(VecF::tail_mask(t < W ? t : W), row + j);
      __m512 hi = t > W ? _mm512_maskz_loadu_ps(VecF::tail_mask(t - W), row + j + W) : _mm512_setzero_ps();
      _mm512_mask_storeu_epi32(d + j / 2, VecF::tail_mask((t + 1) / 2), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
  }
}

// acc[r][c] = sum over steps e < n of the pair a[r * lda + e] times the pairs b[e * ldb + c * W : ... + W] (two
// bf16 products per fp32 lane, vdpbf16ps), r < M, c < NV: the micro-kernel of Q K^T (a: query rows as d-pairs,
// b: keys as columns of d-pairs) and of P V (a: probability rows as key-pairs, b: V as key-pairs).
template <int M, int NV>
inline void pairs_tile(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t ldb, int64_t n,
                       __m512 (&acc)[M][NV]) {
  TF_UNROLL
  for (int r = 0; r < M; ++r)
    TF_UNROLL
    for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t e = 0; e < n; ++e) {
    __m512i bv[NV];
    TF_UNROLL
    for (int c = 0; c < NV; ++c) bv[c] = _mm512_loadu_si512(b + e * ldb + c * W);
    TF_UNROLL
    for (int r = 0; r < M; ++r) {
      __m512i av = _mm512_set1_epi32(static_cast<int>(a[r * lda + e]));
      TF_UNROLL
      for (int c = 0; c < NV; ++c) acc[r][c] = dp_bf16(acc[r][c], av, bv[c]);
    }
  }
}

// s[r][0:NV*W] = sum over pairs e < DP of q[r * DP + e] . kt[e * ldk][0:NV*W] for r < M (kt: d-pairs of keys in
// columns, rows ldk apart: NR in a pack_kt_pairs panel).
template <int M, int NV = 2>
inline void qk_tile_pairs(const uint32_t* q, int64_t DP, const uint32_t* kt, int64_t ldk, float* s, int64_t ss) {
  __m512 acc[M][NV];
  pairs_tile<M, NV>(q, DP, kt, ldk, DP, acc);
  TF_UNROLL
  for (int r = 0; r < M; ++r)
    TF_UNROLL
    for (int c = 0; c < NV; ++c) _mm512_storeu_ps(s + r * ss + c * W, acc[r][c]);
}

// Scores of M query rows (pack_rows_pairs) against the cols_pad (a multiple of NR) keys of pack_kt_pairs.
template <int M>
void qk_rows_pairs(const uint32_t* q, int64_t DP, const uint32_t* kt, int64_t cols_pad, float* s, int64_t ss) {
  for (int64_t c = 0; c < cols_pad; c += NR) qk_tile_pairs<M>(q, DP, kt + c * DP, NR, s + c, ss);
}

// V[0:n, 0:D] as key-pairs: vp[e * ldv + c] = (V[2e][c], V[2e + 1][c]) for e < ceil(n / 2), zero past n and D
// (ldv >= D, a multiple of W).
inline void pack_v_pairs(const bf16* v, int64_t vs, int64_t n, int64_t D, uint32_t* vp, int64_t ldv) {
  for (int64_t e = 0; e < (n + 1) / 2; ++e) {
    const bf16* lo = v + 2 * e * vs;
    uint32_t* dst = vp + e * ldv;
    if (2 * e + 3 < n) prefetch_row(lo + 2 * vs, D), prefetch_row(lo + 3 * vs, D);  // the next pair
    int64_t c = 0;
    if (2 * e + 1 < n) {
      const bf16* hi = lo + vs;
      for (; c + W <= D; c += W) {  // interleave 16 + 16 bf16 into 16 pairs
        __m512i l = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + c)));
        __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi + c)));
        _mm512_storeu_si512(dst + c, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
      }
      for (; c < D; ++c) dst[c] = bf16_pair(lo[c], hi[c]);
    } else {
      for (; c < D; ++c) dst[c] = lo[c].bits;
    }
    for (; c < ldv; ++c) dst[c] = 0;
  }
}

// o[r][0 : NV*W] = rs[r] * sum over key-pairs e < np of pp[r * ldp + e] . vp[e * ldv][0 : NV*W], the last vector
// stored masked to `tail` lanes.
template <int M, int NV, typename TO>
inline void pv_tile_pairs(const uint32_t* pp, int64_t ldp, const uint32_t* vp, int64_t ldv, int64_t np, TO* o,
                          int64_t os, const float* rs, int tail) {
  __m512 acc[M][NV];
  pairs_tile<M, NV>(pp, ldp, vp, ldv, np, acc);
  TF_UNROLL
  for (int r = 0; r < M; ++r) {
    VecF scale(rs[r]);
    TF_UNROLL
    for (int c = 0; c < NV; ++c) {
      VecF y = VecF(acc[r][c]) * scale;
      if (c == NV - 1 && tail < W) vec::store(y, o + r * os + c * W, tail);
      else vec::store(y, o + r * os + c * W);
    }
  }
}

template <int M, typename TO>
void pv_rows_pairs(const uint32_t* pp, int64_t ldp, const uint32_t* vp, int64_t ldv, int64_t np, TO* o, int64_t os,
                   int64_t D, const float* rs) {
  int64_t c = 0;
  for (; c + 2 * W <= D; c += 2 * W) pv_tile_pairs<M, 2>(pp, ldp, vp + c, ldv, np, o + c, os, rs, W);
  for (; c + W <= D; c += W) pv_tile_pairs<M, 1>(pp, ldp, vp + c, ldv, np, o + c, os, rs, W);
  if (c < D) pv_tile_pairs<M, 1>(pp, ldp, vp + c, ldv, np, o + c, os, rs, static_cast<int>(D - c));
}

// sum_d a[d] * b[d] for bf16 a, b in place: 32 products per vdpbf16ps.
inline float dot_pairs(const bf16* a, const bf16* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t d = 0;
  auto load = [](const bf16* p) { return _mm512_loadu_si512(p); };
  for (; d + 4 * W <= n; d += 4 * W) {
    acc0 = dp_bf16(acc0, load(a + d), load(b + d));
    acc1 = dp_bf16(acc1, load(a + d + 2 * W), load(b + d + 2 * W));
  }
  for (; d + 2 * W <= n; d += 2 * W) acc0 = dp_bf16(acc0, load(a + d), load(b + d));
  if (d < n) {
    __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (n - d)) - 1);
    acc1 = dp_bf16(acc1, _mm512_maskz_loadu_epi16(m, a + d), _mm512_maskz_loadu_epi16(m, b + d));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}
#endif  // TF_BF16_HW

}  // namespace tiles
}  // namespace TF_ISA_NS
}  // namespace tf
