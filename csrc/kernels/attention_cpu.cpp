// Per (sequence, head): S = Q K^T with a register-blocked micro-kernel on a packed K^T, row softmax
// (scale, mask, limits), O = P V with a second micro-kernel reading V in place. Query rows go in
// blocks so that the score block stays in L2; threads split the (sequence, head) pairs. bfloat16 tensors take
// the same path in fp32: K^T is packed to fp32 and the query block converted before Q K^T, V read converting;
// with avx512_bf16 (bf16_hw) both products run on vdpbf16ps instead, on bf16 pairs: K^T, the query block, V
// and the probabilities (rounded to bf16, as torch's bf16 attention does) packed for it.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/attention.h"
#include "kernels/attention_tiles.h"
#include "kernels/softmax_row.h"

namespace tf {
namespace TF_ISA_NS {

namespace {

using namespace tiles;

struct Scratch {
  std::vector<float> kt, s, row_inv, qf;  // qf: the fp32 query rows of a bfloat16 call
  std::vector<uint32_t> ktp, qp, vp, pp;  // bf16 pairs (vdpbf16ps): K^T, query block, V, probabilities
};

#if defined(TF_BF16_HW)
template <typename T>
constexpr bool kPairs = std::is_same_v<T, vec::bf16_hw>;
#else
template <typename T>
constexpr bool kPairs = false;
#endif

// One (sequence, head) pair: q [Sq, D], k/v [Sk, D] (row strides), out [Sq, D].
template <typename T>
void attend(const AttentionArgs& a, const T* q, const T* k, const T* v, T* out, const T* mask, int64_t sq,
            int64_t sk, Scratch& buf) {
  constexpr bool kFloat = std::is_same_v<T, float>;
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
      if constexpr (kFloat) {
        for (int64_t j = 0; j < n; ++j) s[j] = dot(q + i * qs, k + j * ks, D);
#if defined(TF_BF16_HW)
      } else if constexpr (kPairs<T>) {
        for (int64_t j = 0; j < n; ++j) s[j] = dot_pairs(q + i * qs, k + j * ks, D);
#endif
      } else {
        buf.qf.resize(D);
        for (int64_t d = 0; d < D; ++d) buf.qf[d] = vec::to_float(q[i * qs + d]);
        for (int64_t j = 0; j < n; ++j) s[j] = dot(buf.qf.data(), k + j * ks, D);
      }
      float inv = softmax_row<true, false>(s, s, n, n, a.scale, mask ? mask + i * ms : nullptr);
      pv_rows<1>(s, 0, v, vs, n, out + i * os, os, D, &inv);
    }
    return;
  }

  const int64_t kmax = valid_keys(sq - 1);  // keys any query may see
  const int64_t kpad = round_up(std::max<int64_t>(kmax, 1), NR);
  // (bf16 pairs) d-pairs per row, and the row length of the packed V
  [[maybe_unused]] const int64_t DP = (D + 1) / 2, ldv = round_up(D, W);
  if constexpr (kPairs<T>) {
#if defined(TF_BF16_HW)
    buf.ktp.resize(kpad * DP);
    pack_kt_pairs(k, ks, kmax, D, buf.ktp.data());
    buf.vp.resize((kmax + 1) / 2 * ldv);
    pack_v_pairs(v, vs, kmax, D, buf.vp.data(), ldv);
#endif
  } else {
    buf.kt.resize(kpad * D);
    pack_kt(k, ks, kmax, D, buf.kt.data());
  }
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
    if constexpr (kPairs<T>) {
#if defined(TF_BF16_HW)
      buf.qp.resize(rows * DP);
      pack_rows_pairs(q + i0 * qs, qs, rows, D, buf.qp.data());
      for (int64_t r = 0; r < rows; r += MR) {
        int m = static_cast<int>(std::min<int64_t>(MR, rows - r));
        TF_DISPATCH_M(m, qk_rows_pairs, buf.qp.data() + r * DP, DP, buf.ktp.data(), cols_pad, s + r * kpad, kpad);
      }
#endif
    } else {
      const float* qb;  // the block's query rows in fp32, qbs apart
      int64_t qbs;
      if constexpr (kFloat) {
        qb = q + i0 * qs, qbs = qs;
      } else {
        buf.qf.resize(rows * D);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t d = 0; d < D; ++d) buf.qf[r * D + d] = vec::to_float(q[(i0 + r) * qs + d]);
        qb = buf.qf.data(), qbs = D;
      }
      for (int64_t r = 0; r < rows; r += MR) {
        int m = static_cast<int>(std::min<int64_t>(MR, rows - r));
        TF_DISPATCH_M(m, qk_rows, qb + r * qbs, qbs, buf.kt.data(), cols_pad, D, s + r * kpad, kpad);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      int64_t i = i0 + r;
      float* row = s + r * kpad;
      row_inv[r] = softmax_row<true, false>(row, row, valid_keys(i), ncols, a.scale, mask ? mask + i * ms : nullptr);
    }
    if constexpr (kPairs<T>) {
#if defined(TF_BF16_HW)
      const int64_t ldp = kpad / 2, np = (ncols + 1) / 2;
      buf.pp.resize(rows * ldp);
      pack_rows_pairs(s, kpad, rows, ncols, buf.pp.data(), ldp);
      for (int64_t r = 0; r < rows; r += MR) {
        int m = static_cast<int>(std::min<int64_t>(MR, rows - r));
        TF_DISPATCH_M(m, pv_rows_pairs, buf.pp.data() + r * ldp, ldp, buf.vp.data(), ldv, np, out + (i0 + r) * os, os,
                      D, row_inv + r);
      }
#endif
    } else {
      for (int64_t r = 0; r < rows; r += MR) {
        int m = static_cast<int>(std::min<int64_t>(MR, rows - r));
        TF_DISPATCH_M(m, pv_rows, s + r * kpad, kpad, v, vs, ncols, out + (i0 + r) * os, os, D, row_inv + r);
      }
    }
  }
}

// int8 keys and values (a quantized KV cache: decoding), any number of queries: per query row, dot products
// straight from the int8 rows times each key's scale, the softmax, then the probabilities times each value's scale
// against the int8 values (each row widened to fp32 as it is read).
void attend_int8_kv(const AttentionArgs& a, const float* q, const int8_t* k, const float* k_scale, const int8_t* v,
                    const float* v_scale, float* out, const float* mask, int64_t sq, int64_t sk, Scratch& buf) {
  const int64_t D = a.head_dim, qs = a.q.row_stride, ks = a.k.row_stride, vs = a.v.row_stride;
  const int64_t kss = a.k_scale.row_stride, vss = a.v_scale.row_stride;
  const int64_t os = a.out_row_stride, ms = a.mask.row_stride, offset = sk - sq;
  buf.s.resize(std::max<int64_t>(sk, 1));
  float* s = buf.s.data();
  for (int64_t i = 0; i < sq; ++i) {
    const int64_t n = a.causal ? std::min(sk, std::max<int64_t>(i + offset + 1, 0)) : sk;
    for (int64_t j = 0; j < n; ++j) s[j] = dot(q + i * qs, k + j * ks, D) * k_scale[j * kss];
    float inv = softmax_row<true, false>(s, s, n, n, a.scale, mask ? mask + i * ms : nullptr);
    for (int64_t j = 0; j < n; ++j) s[j] *= v_scale[j * vss];
    pv_rows<1>(s, 0, v, vs, n, out + i * os, os, D, &inv);
  }
}

// T: the element type of q, mask and out; TKV: of k and v (T, or int8_t with per-row scales).
template <typename T, typename TKV = T>
void attention_typed(const AttentionArgs& a) {
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
      auto at = [&](const AttnOperand& t, auto element) {
        using E = decltype(element);
        return static_cast<const E*>(t.data) + b * t.batch_stride + h * t.head_stride + q0 * t.row_stride;
      };
      T* out = static_cast<T*>(a.out) + b * a.out_batch_stride + h * a.out_head_stride + q0 * a.out_row_stride;
      const T* mask = a.mask.data ? at(a.mask, T{}) : nullptr;
      if (sk == 0) {
        for (int64_t i = 0; i < sq; ++i)
          std::fill(out + i * a.out_row_stride, out + i * a.out_row_stride + a.head_dim, vec::from_float<T>(0.0f));
        continue;
      }
      if constexpr (std::is_same_v<TKV, int8_t>)
        attend_int8_kv(a, at(a.q, T{}), at(a.k, TKV{}), at(a.k_scale, float{}), at(a.v, TKV{}), at(a.v_scale, float{}),
                       out, mask, sq, sk, buf);
      else
        attend(a, at(a.q, T{}), at(a.k, T{}), at(a.v, T{}), out, mask, sq, sk, buf);
    }
  });
}

}  // namespace

void attention_cpu(const AttentionArgs& a) {
  if (a.kv_dtype == DType::i8) {
    TF_CHECK(a.dtype == DType::f32, "int8 keys and values take float32 queries");
    attention_typed<float, int8_t>(a);
    return;
  }
  vec::with_dtype(a.dtype, [&](auto tag) { attention_typed<decltype(tag)>(a); });
}

}  // namespace TF_ISA_NS
}  // namespace tf
