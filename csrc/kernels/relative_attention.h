// Fused relative-position attention of Transformer-XL and XLNet in their sequence-first layout, computed in fp32:
// the CPU kernel takes float32 or bfloat16 tensors (all alike), the CUDA kernel (relative_attention_cuda.cu)
// float32, float16 or bfloat16.
// Per (batch b, head n, query i):
//   score[j] = ((q_i + r_w_bias)·k_j + bd[i][j] [+ (q_i + r_s_bias)·seg_embed[seg[b][i][j]]]) * scale,
//   -1e30 where mask[b][i][j] (as both references: a fully masked row is uniform), softmax over j,
//   out_i = sum_j p_j v_j,
// with bd the references' rel_shift of raw[i][c] = (q_i + r_r_bias)·r_c read as a gather through their
// flat-index arithmetic (XLNet: bd[i][j] = raw[i][j + qlen - i], Transformer-XL: raw[i][j + qlen - 1 - i]
// while that column is < rlen; past it the reshape wraps into row i + 1, and so does the kernel).
#pragma once
#include <cstdint>
#include <optional>

#include "common/cpu_features.h"
#include "common/tensor_view.h"
#include "kernels/attention.h"  // AttnOperand

namespace tf {

enum class RelShift : int { xlnet = 0, transfo_xl = 1 };

struct RelAttnMap {  // uint8 [batch or 1, qlen, klen], nonzero = set; klen contiguous
  const uint8_t* data = nullptr;
  int64_t batch_stride = 0, row_stride = 0;
};

struct RelativeAttentionArgs {
  DType dtype = DType::f32;     // of every tensor but the uint8 maps (and int8 keys and values)
  DType kv_dtype = DType::f32;  // i8: key / value row j is k[j] * k_scale[j] (v alike; few queries only)
  AttnOperand k_scale, v_scale;  // i8 keys and values: float32 [klen, batch, heads]
  // [len, batch, heads, D]: row_stride steps a position, batch_stride a batch (0 for r of batch 1).
  AttnOperand q, k, v, r;
  AttnOperand r_w_bias, r_r_bias, r_s_bias;  // [heads, D]: head_stride only
  AttnOperand seg_embed;                     // [2, heads, D]: row_stride steps the segment
  RelAttnMap mask, seg;                      // data == nullptr if absent (seg present iff r_s_bias is)
  void* out = nullptr;                       // [qlen, batch, heads, D], contiguous
  int64_t qlen = 0, klen = 0, rlen = 0, batch = 0, heads = 0, head_dim = 0;
  float scale = 1.0f;
  RelShift shift = RelShift::xlnet;
};

TF_ISA_DECLARE(void, relative_attention_cpu, (const RelativeAttentionArgs& args))

namespace rel_attn_detail {

// A [len, batch (or 1 when batch_or_one), heads, D] operand of `dtype` with a contiguous last dim.
inline AttnOperand seq_operand(const TensorView& t, const char* name, int64_t batch, int64_t heads, int64_t D,
                               bool batch_or_one, DType dtype, bool on_cpu) {
  check_tensor_on(t, name, dtype, on_cpu, /*contiguous=*/false);
  TF_CHECK(t.dim() == 4, name, ": expected [len, batch, heads, head_dim], got ", t.dim(), " dims");
  TF_CHECK((t.size(1) == batch || (batch_or_one && t.size(1) == 1)) && t.size(2) == heads && t.size(3) == D, name,
           ": expected [len, ", batch, batch_or_one ? " or 1" : "", ", ", heads, ", ", D, "], got [", t.size(0), ", ",
           t.size(1), ", ", t.size(2), ", ", t.size(3), "]");
  TF_CHECK(D <= 1 || t.strides[3] == 1, name, ": last dim must be contiguous");
  return {t.data, t.size(1) == 1 ? 0 : t.strides[1], t.strides[2], t.strides[0]};
}

// A [lead..., heads, D] parameter of `dtype` (lead = {} for the biases, {2} for seg_embed).
inline AttnOperand param_operand(const TensorView& t, const char* name, int64_t lead, int64_t heads, int64_t D,
                                 DType dtype, bool on_cpu) {
  check_tensor_on(t, name, dtype, on_cpu, /*contiguous=*/false);
  const int64_t dims = lead ? 3 : 2;
  TF_CHECK(t.dim() == dims && (!lead || t.size(0) == lead) && t.size(-2) == heads && t.size(-1) == D, name,
           ": expected ", lead ? "[2, " : "[", heads, ", ", D, "]");
  TF_CHECK(D <= 1 || t.strides.back() == 1, name, ": last dim must be contiguous");
  return {t.data, 0, t.strides[dims - 2], lead ? t.strides[0] : 0};
}

inline RelAttnMap map_operand(const TensorView& t, const char* name, int64_t batch, int64_t qlen, int64_t klen,
                              bool on_cpu) {
  check_tensor_on(t, name, DType::u8, on_cpu, /*contiguous=*/false);
  TF_CHECK(t.dim() == 3 && (t.size(0) == batch || t.size(0) == 1) && t.size(1) == qlen && t.size(2) == klen, name,
           ": expected uint8 [batch or 1, qlen, klen] = [", batch, ", ", qlen, ", ", klen, "]");
  TF_CHECK(klen <= 1 || t.strides[2] == 1, name, ": last dim must be contiguous");
  return {t.ptr<uint8_t>(), t.size(0) == 1 ? 0 : t.strides[0], t.strides[1]};
}

}  // namespace rel_attn_detail

// The checks of every device's front, and the kernel arguments. shift: 0 = XLNet (rlen >= klen + 1),
// 1 = Transformer-XL (rlen == klen). mask, seg_diff: uint8 [batch or 1, qlen, klen]; seg_diff, seg_embed
// [2, heads, D] and r_s_bias [heads, D] go together. Every other tensor is of `dtype`, on the CPU or not as
// on_cpu says.
inline RelativeAttentionArgs relative_attention_args(
    const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& r, const TensorView& r_w_bias,
    const TensorView& r_r_bias, const TensorView& out, const TensorView* mask, const TensorView* seg_diff,
    const TensorView* seg_embed, const TensorView* r_s_bias, double scale, int64_t shift, DType dtype, bool on_cpu,
    std::optional<DType> kv_dtype = std::nullopt) {
  using namespace rel_attn_detail;
  TF_CHECK(q.dim() == 4, "q: expected [qlen, batch, heads, head_dim], got ", q.dim(), " dims");
  RelativeAttentionArgs a;
  a.dtype = dtype;
  a.qlen = q.size(0), a.batch = q.size(1), a.heads = q.size(2), a.head_dim = q.size(3);
  TF_CHECK(a.head_dim >= 1, "q: head_dim must be at least 1");
  TF_CHECK(shift == 0 || shift == 1, "shift: 0 (XLNet) or 1 (Transformer-XL), got ", shift);
  a.shift = static_cast<RelShift>(shift);
  const int64_t B = a.batch, H = a.heads, D = a.head_dim;
  a.q = seq_operand(q, "q", B, H, D, false, dtype, on_cpu);
  a.kv_dtype = kv_dtype.value_or(dtype);
  a.k = seq_operand(k, "k", B, H, D, false, a.kv_dtype, on_cpu);
  a.v = seq_operand(v, "v", B, H, D, false, a.kv_dtype, on_cpu);
  a.r = seq_operand(r, "r", B, H, D, true, dtype, on_cpu);
  a.klen = k.size(0), a.rlen = r.size(0);
  TF_CHECK(v.size(0) == a.klen, "v: must have as many positions as k (", a.klen, "), got ", v.size(0));
  TF_CHECK(a.klen >= a.qlen, "k: klen (", a.klen, ") must be at least qlen (", a.qlen, ")");
  if (a.shift == RelShift::xlnet)
    TF_CHECK(a.rlen >= a.klen + 1, "r: XLNet's shift needs rlen >= klen + 1 = ", a.klen + 1, ", got ", a.rlen);
  else
    TF_CHECK(a.rlen == a.klen, "r: Transformer-XL's shift needs rlen == klen = ", a.klen, ", got ", a.rlen);
  a.r_w_bias = param_operand(r_w_bias, "r_w_bias", 0, H, D, dtype, on_cpu);
  a.r_r_bias = param_operand(r_r_bias, "r_r_bias", 0, H, D, dtype, on_cpu);
  // (torch's strides of an empty one vary)
  check_tensor_on(out, "out", dtype, on_cpu, /*contiguous=*/out.numel() > 0);
  check_same_shape(q, "q", out, "out");
  a.out = out.data;
  if (mask) a.mask = map_operand(*mask, "attn_mask", B, a.qlen, a.klen, on_cpu);
  TF_CHECK(!seg_diff == !seg_embed && !seg_diff == !r_s_bias,
           "seg_diff, seg_embed and r_s_bias go together (XLNet's segment term)");
  if (seg_diff) {
    a.seg = map_operand(*seg_diff, "seg_diff", B, a.qlen, a.klen, on_cpu);
    a.seg_embed = param_operand(*seg_embed, "seg_embed", 2, H, D, dtype, on_cpu);
    a.r_s_bias = param_operand(*r_s_bias, "r_s_bias", 0, H, D, dtype, on_cpu);
  }
  for (auto [t, name] : {std::pair{&q, "q"}, {&k, "k"}, {&v, "v"}, {&r, "r"}, {&r_w_bias, "r_w_bias"},
                         {&r_r_bias, "r_r_bias"}, {mask, "attn_mask"}, {seg_diff, "seg_diff"}, {seg_embed, "seg_embed"},
                         {r_s_bias, "r_s_bias"}})
    check_no_overlap(out, "out", t, name);
  a.scale = static_cast<float>(scale);
  return a;
}

// The CPU kernel: float32 or bfloat16 (q's dtype; every tensor but the uint8 maps alike).
inline void relative_attention(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& r,
                               const TensorView& r_w_bias, const TensorView& r_r_bias, const TensorView& out,
                               const TensorView* mask, const TensorView* seg_diff, const TensorView* seg_embed,
                               const TensorView* r_s_bias, double scale, int64_t shift) {
  TF_CHECK(q.dim() == 4, "q: expected [qlen, batch, heads, head_dim], got ", q.dim(), " dims");
  check_cpu_dtype(q, "q");
  RelativeAttentionArgs a = relative_attention_args(q, k, v, r, r_w_bias, r_r_bias, out, mask, seg_diff, seg_embed,
                                                    r_s_bias, scale, shift, q.dtype, true);
  if (a.qlen == 0 || a.batch == 0 || a.heads == 0) return;
  TF_ISA_CALL(relative_attention_cpu, a);
}

// relative_attention() over int8 keys and values (a quantized memory during generation): q and every other tensor
// float32, k, v int8 [klen, batch, heads, D] with k_scale, v_scale float32 [klen, batch, heads] (ops.attention's
// quantize_kv rows); fewer than kDotMaxQueries (14) queries, the kernel's dot-product path.
inline void relative_attention_int8_kv(const TensorView& q, const TensorView& k, const TensorView& k_scale,
                                       const TensorView& v, const TensorView& v_scale, const TensorView& r,
                                       const TensorView& r_w_bias, const TensorView& r_r_bias, const TensorView& out,
                                       const TensorView* mask, const TensorView* seg_diff,
                                       const TensorView* seg_embed, const TensorView* r_s_bias, double scale,
                                       int64_t shift) {
  RelativeAttentionArgs a = relative_attention_args(q, k, v, r, r_w_bias, r_r_bias, out, mask, seg_diff, seg_embed,
                                                    r_s_bias, scale, shift, DType::f32, true, DType::i8);
  TF_CHECK(a.qlen < kDotMaxQueries, "q: int8 keys and values take fewer than ", kDotMaxQueries, " queries, got ",
           a.qlen);
  auto scales = [&](const TensorView& s, const char* name) {
    check_tensor(s, name, DType::f32, /*contiguous=*/false);
    TF_CHECK(s.dim() == 3 && s.size(0) == a.klen && s.size(1) == a.batch && s.size(2) == a.heads, name,
             ": expected [klen, batch, heads] = [", a.klen, ", ", a.batch, ", ", a.heads, "]");
    return AttnOperand{s.data, s.strides[1], s.strides[2], s.strides[0]};
  };
  a.k_scale = scales(k_scale, "k_scale");
  a.v_scale = scales(v_scale, "v_scale");
  check_no_overlap(out, "out", &k_scale, "k_scale");
  check_no_overlap(out, "out", &v_scale, "v_scale");
  if (a.qlen == 0 || a.batch == 0 || a.heads == 0) return;
  TF_ISA_CALL(relative_attention_cpu, a);
}

// The CUDA kernel (relative_attention_cuda.cu): float32, float16 or bfloat16 (every tensor but the uint8 maps
// alike; fp32 scores, softmax and accumulation), head_dim <= kRelativeAttentionCudaMaxHeadDim; launched on
// `stream`.
constexpr int64_t kRelativeAttentionCudaMaxHeadDim = 256;
void relative_attention_cuda(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& r,
                             const TensorView& r_w_bias, const TensorView& r_r_bias, const TensorView& out,
                             const TensorView* mask, const TensorView* seg_diff, const TensorView* seg_embed,
                             const TensorView* r_s_bias, double scale, int64_t shift, void* stream);

}  // namespace tf
