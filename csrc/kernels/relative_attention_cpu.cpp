// Per (batch, head, block of queries): ac = (Q + r_w_bias) K^T on a packed K^T (attention's micro-kernel),
// raw = (Q + r_r_bias) R^T on a transposed window of R, only the columns each micro-tile of query rows
// gathers (row i reads raw columns i-dependent by one per row, so MR rows need klen + MR - 1 of them, not
// rlen), then per row: add the gathered bd and the segment term, scale, mask, softmax, and P V on V in
// place. Threads split the (batch, head, query block) tasks; every score is computed the same way whatever
// the split, so results do not depend on the thread count. bfloat16 tensors are converted to fp32 as they are
// packed (K^T, R^T, V, the query rows plus their biases) and the output rounded as it is stored; with
// avx512_bf16 (bf16_hw) the three products run on vdpbf16ps over bf16 pairs instead (attention_tiles.h), the
// query rows plus their biases and the probabilities rounded to bf16 for it (as the references in bf16 do).
#include <algorithm>
#include <type_traits>
#include <vector>

#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/attention_tiles.h"
#include "kernels/relative_attention.h"
#include "kernels/softmax_row.h"

namespace tf {
namespace TF_ISA_NS {

namespace {

using namespace tiles;

constexpr float kMasked = -1e30f;  // what both references give a masked key
constexpr int64_t kBlock = 8 * MR;  // query rows per task when heads are few

struct Scratch {
  std::vector<float> kt, rt, vp, qw, qr, s, raw, tmp;
  std::vector<uint32_t> ktp, rtp, vpp, qwp, qrp, pp;  // bf16 pairs (vdpbf16ps)
};

#if defined(TF_BF16_HW)
template <typename T>
constexpr bool kPairs = std::is_same_v<T, vec::bf16_hw>;

// raw_rows on bf16 pairs: q [M][DP] d-pairs, rt d-pairs of R in columns (rows ldr apart).
template <int M>
void raw_rows_pairs(const uint32_t* q, int64_t DP, const uint32_t* rt, int64_t ldr, int64_t width, float* raw,
                    int64_t ldraw) {
  int64_t c = 0;
  for (; c + W < width; c += NR) qk_tile_pairs<M, 2>(q, DP, rt + c, ldr, raw + c, ldraw);
  if (c < width) qk_tile_pairs<M, 1>(q, DP, rt + c, ldr, raw + c, ldraw);
}
#else
template <typename T>
constexpr bool kPairs = false;
#endif

// raw[r][0:width] = sum_d q[r][d] * rt[d * ldr][0:width] for r < M, in tiles of 2 vectors and a last one of 1.
// rt may be read up to W - 1 columns past width (the caller pads it).
template <int M>
void raw_rows(const float* q, int64_t qs, const float* rt, int64_t ldr, int64_t width, int64_t D, float* raw,
              int64_t ldraw) {
  int64_t c = 0;
  for (; c + W < width; c += NR) qk_tile<M, 2>(q, qs, rt + c, ldr, D, raw + c, ldraw);
  if (c < width) qk_tile<M, 1>(q, qs, rt + c, ldr, D, raw + c, ldraw);
}

// dst[0:D] = a[0:D] + b[0:D], in fp32
template <typename T>
inline void add_rows(const T* a, const T* b, int64_t D, float* dst) {
  for (int64_t d = 0; d < D; ++d) dst[d] = vec::to_float(a[d]) + vec::to_float(b[d]);
}

// What the score rows of one (batch, head) read besides their products.
template <typename T>
struct RowContext {
  const RelativeAttentionArgs& a;
  const T *q, *r, *rw, *rr, *rs_bias, *seg_embed;
  const uint8_t *mask, *seg;
  int64_t off;  // bd[i][j] = raw[i][j + off - i] while that column is < rlen
};

// Row i's scores from its ac terms (row[0:klen]) and the bd terms of the keys that read row i's own raw columns
// (bd[j] for j < jw): the bd of the keys that wrap into row i + 1, the segment term, scale and mask, then the
// softmax (exponentials in row). Returns 1 / their sum.
template <typename T>
float finish_row(const RowContext<T>& c, int64_t i, float* row, const float* bd, float* tmp) {
  const RelativeAttentionArgs& a = c.a;
  const int64_t D = a.head_dim, klen = a.klen, rlen = a.rlen, q_rs = a.q.row_stride, r_rs = a.r.row_stride;
  const uint8_t* mrow = c.mask ? c.mask + i * a.mask.row_stride : nullptr;
  const uint8_t* srow = c.seg ? c.seg + i * a.seg.row_stride : nullptr;
  float ef[2] = {0.0f, 0.0f};  // (q_i + r_s_bias)·seg_embed[0 / 1]
  if (srow) {
    add_rows(c.q + i * q_rs, c.rs_bias, D, tmp);
    for (int e = 0; e < 2; ++e) ef[e] = dot(tmp, c.seg_embed + e * a.seg_embed.row_stride, D);
  }
  const int64_t jw = std::min(klen, rlen - c.off + i);  // keys j >= jw wrap into row i + 1
  const VecF vscale(a.scale), vmasked(kMasked), ef0(ef[0]), ef1(ef[1]);
  int64_t j = 0;
  for (; j + W <= jw; j += W) {
    VecF val = VecF::load(row + j) + VecF::load(bd + j);
    if (srow) val = val + vec::select_nonzero_u8(srow + j, ef1, ef0);
    val = val * vscale;
    if (mrow) val = vec::select_nonzero_u8(mrow + j, vmasked, val);
    val.store(row + j);
  }
  for (; j < jw; ++j) {
    float val = row[j] + bd[j];
    if (srow) val = val + ef[srow[j] ? 1 : 0];
    row[j] = mrow && mrow[j] ? kMasked : val * a.scale;
  }
  if (jw < klen) add_rows(c.q + (i + 1) * q_rs, c.rr, D, tmp);  // (q_{i+1} + r_r_bias)
  for (; j < klen; ++j) {
    if (mrow && mrow[j]) {  // the usual case: these are the future keys the causal mask removes
      row[j] = kMasked;
      continue;
    }
    // The reshape's wrap: XLNet raw[i + 1][col - rlen]; Transformer-XL pads a zero column on the left, so
    // raw[i + 1][col - rlen - 1], and 0 at the pad.
    const int64_t col = j + c.off - i - rlen - (a.shift == RelShift::transfo_xl ? 1 : 0);
    float val = row[j] + (col < 0 ? 0.0f : dot(tmp, c.r + col * r_rs, D));
    if (srow) val = val + ef[srow[j] ? 1 : 0];
    row[j] = val * a.scale;
  }
  // scale 1: exact (x * 1 = x), the scores above are already scaled and masked
  return softmax_row<false, false>(row, row, klen, klen, 1.0f, static_cast<const float*>(nullptr));
}

// Few queries (decoding, short segments): dot products straight from K, R and V, which the tiled path would pack
// first (K^T, the R window, V: O(klen * head_dim) per head each, as much as a decode step's products).
// TKV int8 (a quantized memory): each key's product times its scale, each probability times its value's scale.
template <typename T, typename TKV = T>
void rel_rows_dot(const RowContext<T>& c, const TKV* k, const TKV* v, T* out, int64_t i0, int64_t i1, Scratch& buf,
                  const float* k_scale = nullptr, const float* v_scale = nullptr) {
  constexpr bool kInt8 = std::is_same_v<TKV, int8_t>;
  const RelativeAttentionArgs& a = c.a;
  const int64_t D = a.head_dim, klen = a.klen, q_rs = a.q.row_stride, r_rs = a.r.row_stride;
  const int64_t k_rs = a.k.row_stride, os = a.batch * a.heads * D;
  buf.qw.resize(D), buf.qr.resize(D), buf.tmp.resize(D);
  buf.s.resize(std::max<int64_t>(klen, 1)), buf.raw.resize(std::max<int64_t>(klen, 1));
  float *qw = buf.qw.data(), *qr = buf.qr.data(), *tmp = buf.tmp.data(), *s = buf.s.data(), *bd = buf.raw.data();
  for (int64_t i = i0; i < i1; ++i) {
    add_rows(c.q + i * q_rs, c.rw, D, qw);
    add_rows(c.q + i * q_rs, c.rr, D, qr);
    const int64_t jw = std::min(klen, a.rlen - c.off + i);
    for (int64_t j = 0; j < klen; ++j) s[j] = dot(qw, k + j * k_rs, D);
    if constexpr (kInt8)
      for (int64_t j = 0; j < klen; ++j) s[j] *= k_scale[j * a.k_scale.row_stride];
    for (int64_t j = 0; j < jw; ++j) bd[j] = dot(qr, c.r + (j + c.off - i) * r_rs, D);
    float inv = finish_row(c, i, s, bd, tmp);
    if constexpr (kInt8)
      for (int64_t j = 0; j < klen; ++j) s[j] *= v_scale[j * a.v_scale.row_stride];
    pv_rows<1>(s, 0, v, a.v.row_stride, klen, out + i * os, os, D, &inv);
  }
}

// One task: queries [i0, i1) of head n in batch b. TKV: T, or int8_t (fewer than kDotMaxQueries queries).
template <typename T, typename TKV = T>
void rel_block(const RelativeAttentionArgs& a, int64_t b, int64_t n, int64_t i0, int64_t i1, Scratch& buf) {
  const int64_t D = a.head_dim, qlen = a.qlen, klen = a.klen, rlen = a.rlen;
  // bd[i][j] = raw[i][j + off - i] while that column is < rlen (the references' flat-index arithmetic).
  const int64_t off = a.shift == RelShift::xlnet ? qlen : qlen - 1;
  auto base = [&](const AttnOperand& t) {
    return static_cast<const T*>(t.data) + b * t.batch_stride + n * t.head_stride;
  };
  auto param = [&](const AttnOperand& t) { return static_cast<const T*>(t.data) + n * t.head_stride; };
  const T *q = base(a.q), *r = base(a.r);
  const int64_t q_rs = a.q.row_stride, r_rs = a.r.row_stride;
  const T* rw = param(a.r_w_bias);
  const T* rr = param(a.r_r_bias);
  const int64_t os = a.batch * a.heads * D;
  T* out = static_cast<T*>(a.out) + (b * a.heads + n) * D;
  const uint8_t* mask = a.mask.data ? a.mask.data + b * a.mask.batch_stride : nullptr;
  const uint8_t* seg = a.seg.data ? a.seg.data + b * a.seg.batch_stride : nullptr;
  const RowContext<T> ctx{a, q, r, rw, rr, seg ? param(a.r_s_bias) : nullptr, seg ? param(a.seg_embed) : nullptr,
                          mask, seg, off};
  if constexpr (std::is_same_v<TKV, int8_t>) {
    auto at = [&](const AttnOperand& t, auto element) {
      return static_cast<const decltype(element)*>(t.data) + b * t.batch_stride + n * t.head_stride;
    };
    rel_rows_dot(ctx, at(a.k, int8_t{}), at(a.v, int8_t{}), out, i0, i1, buf, at(a.k_scale, float{}),
                 at(a.v_scale, float{}));
    return;
  }
  const T *k = base(a.k), *v = base(a.v);
  if (qlen < kDotMaxQueries) {  // (decided by qlen, not the task's rows: the same path at any thread count)
    rel_rows_dot(ctx, k, v, out, i0, i1, buf);
    return;
  }

  // K^T in panels, all keys. R^T, columns [c_lo, c_hi): what rows i0..i1-1 read without wrapping; ldr leaves
  // room for the last tile's overread (zeros). V copied to contiguous rows: its row stride (batch * heads * D)
  // is often a multiple of 4 KB, and the P V tiles, which walk all keys for each column chunk, would then keep
  // missing L1 (TXL wt103: 1.4x slower). (bf16 pairs: the same, packed as pairs.)
  const int64_t kpad = round_up(std::max<int64_t>(klen, 1), NR);
  const int64_t c_lo = off - (i1 - 1), c_hi = std::min(off - i0 + klen, rlen);
  const int64_t ldr = round_up(c_hi - c_lo, W) + NR;
  [[maybe_unused]] const int64_t DP = (D + 1) / 2, ldv = round_up(D, W), ldp = kpad / 2;
  float* rt = nullptr;
  if constexpr (kPairs<T>) {
#if defined(TF_BF16_HW)
    buf.ktp.resize(kpad * DP);
    pack_kt_pairs(k, a.k.row_stride, klen, D, buf.ktp.data());
    buf.rtp.assign(DP * ldr, 0);
    transpose_pairs(r + c_lo * r_rs, r_rs, c_hi - c_lo, D, buf.rtp.data(), ldr);
    buf.vpp.resize((klen + 1) / 2 * ldv);
    pack_v_pairs(v, a.v.row_stride, klen, D, buf.vpp.data(), ldv);
    buf.qwp.resize(MR * DP), buf.qrp.resize(MR * DP), buf.pp.resize(MR * ldp);
#endif
  } else {
    buf.kt.resize(kpad * D);
    pack_kt(k, a.k.row_stride, klen, D, buf.kt.data());
    buf.rt.assign(D * ldr, 0.0f);
    rt = buf.rt.data();
    transpose(r + c_lo * r_rs, r_rs, c_hi - c_lo, D, rt, ldr);
    buf.vp.resize(klen * D);
    for (int64_t j = 0; j < klen; ++j) {
      if (j + 8 < klen) prefetch_row(v + (j + 8) * a.v.row_stride, D);
      const T* vj = v + j * a.v.row_stride;
      float* dst = buf.vp.data() + j * D;
      if constexpr (std::is_same_v<T, float>) std::copy(vj, vj + D, dst);
      else for (int64_t d = 0; d < D; ++d) dst[d] = vec::to_float(vj[d]);
    }
  }
  const int64_t ldraw = round_up(klen + MR - 1, W) + NR;
  buf.qw.resize(MR * D), buf.qr.resize(MR * D), buf.s.resize(MR * kpad), buf.raw.resize(MR * ldraw);
  buf.tmp.resize(D);
  float *qw = buf.qw.data(), *qr = buf.qr.data(), *s = buf.s.data(), *raw = buf.raw.data(), *tmp = buf.tmp.data();
  float inv[MR];

  for (int64_t t0 = i0; t0 < i1; t0 += MR) {
    const int m = static_cast<int>(std::min<int64_t>(MR, i1 - t0));
    for (int64_t x = t0 + MR; x < std::min(t0 + 2 * MR, i1); ++x) prefetch_row(q + x * q_rs, D);  // the next tile's
    for (int x = 0; x < m; ++x) {
      add_rows(q + (t0 + x) * q_rs, rw, D, qw + x * D);
      add_rows(q + (t0 + x) * q_rs, rr, D, qr + x * D);
    }
    // raw columns [w0, w1) of rows t0..t0+m-1: row t0 + x reads from column w0 + (m - 1 - x).
    const int64_t w0 = off - (t0 + m - 1), w1 = std::min(off - t0 + klen, rlen);
    if constexpr (kPairs<T>) {
#if defined(TF_BF16_HW)
      pack_rows_pairs(qw, D, m, D, buf.qwp.data(), DP);
      pack_rows_pairs(qr, D, m, D, buf.qrp.data(), DP);
      TF_DISPATCH_M(m, qk_rows_pairs, buf.qwp.data(), DP, buf.ktp.data(), kpad, s, kpad);
      TF_DISPATCH_M(m, raw_rows_pairs, buf.qrp.data(), DP, buf.rtp.data() + (w0 - c_lo), ldr, w1 - w0, raw, ldraw);
#endif
    } else {
      TF_DISPATCH_M(m, qk_rows, qw, D, buf.kt.data(), kpad, D, s, kpad);
      TF_DISPATCH_M(m, raw_rows, qr, D, rt + (w0 - c_lo), ldr, w1 - w0, D, raw, ldraw);
    }

    for (int x = 0; x < m; ++x)
      inv[x] = finish_row(ctx, t0 + x, s + x * kpad, raw + x * ldraw + (m - 1 - x), tmp);
    if constexpr (kPairs<T>) {
#if defined(TF_BF16_HW)
      pack_rows_pairs(s, kpad, m, klen, buf.pp.data(), ldp);
      TF_DISPATCH_M(m, pv_rows_pairs, buf.pp.data(), ldp, buf.vpp.data(), ldv, (klen + 1) / 2, out + t0 * os, os, D,
                    inv);
#endif
    } else {
      TF_DISPATCH_M(m, pv_rows, s, kpad, buf.vp.data(), D, klen, out + t0 * os, os, D, inv);
    }
  }
}

template <typename T, typename TKV = T>
void relative_attention_typed(const RelativeAttentionArgs& a) {
  // Whole heads per task (K^T, the R window and V packed once per head: packing is ~15% of a 48-query
  // block's time) unless there are too few heads to keep every thread busy; then blocks of kBlock queries.
  // Scores do not depend on the split, so neither do the results.
  const int64_t pairs = a.batch * a.heads;
  const int64_t block = pairs >= 4 * get_num_threads() ? a.qlen : kBlock;
  const int64_t blocks = (a.qlen + block - 1) / block, tasks = pairs * blocks;
  // At least ~64K multiply-adds per task, so that waking a thread pays off.
  const int64_t task_work = std::max<int64_t>(1, std::min(a.qlen, block) * a.klen * a.head_dim * 3);
  parallel_for(tasks, std::max<int64_t>(1, 65536 / task_work), [&](int64_t t0, int64_t t1) {
    thread_local Scratch buf;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t p = t / blocks, i0 = (t % blocks) * block;
      rel_block<T, TKV>(a, p / a.heads, p % a.heads, i0, std::min(a.qlen, i0 + block), buf);
    }
  });
}

}  // namespace

void relative_attention_cpu(const RelativeAttentionArgs& a) {
  if (a.kv_dtype == DType::i8) {
    TF_CHECK(a.dtype == DType::f32 && a.qlen < kDotMaxQueries, "int8 keys and values: float32, few queries");
    relative_attention_typed<float, int8_t>(a);
    return;
  }
  vec::with_dtype(a.dtype, [&](auto tag) { relative_attention_typed<decltype(tag)>(a); });
}

}  // namespace TF_ISA_NS
}  // namespace tf
