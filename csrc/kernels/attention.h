// Fused multi-head attention: out = softmax(q k^T * scale + mask, causal/length limits) v; float32 or bfloat16
// tensors (all alike), fp32 scores, softmax and accumulation. A quantized KV cache's keys and values may be int8
// rows with one fp32 scale each (float32 q, mask and out; padded layout).
// Layouts: [batch, heads, seq, head_dim] with any strides (last dim contiguous), or packed
// [tokens, heads, head_dim] with cumulative sequence offsets (q, k, v may be views of one fused
// QKV projection; nothing is copied).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/cpu_features.h"
#include "common/tensor_view.h"

namespace tf {

// Below this many queries the CPU kernels take dot products straight from K (and V, R) rather than packing K^T
// for their micro-kernels (attention, 12 heads x 64 at 8 tokens: 8.7 us vs 14.5 us on AMD AVX-512; equal near 14).
constexpr int64_t kDotMaxQueries = 14;

struct AttnOperand {
  const void* data = nullptr;  // in the call's dtype
  int64_t batch_stride = 0, head_stride = 0, row_stride = 0;  // elements; last dim contiguous
};

struct AttentionArgs {
  DType dtype = DType::f32;     // of q, mask and out (and of k and v unless kv_dtype says otherwise)
  DType kv_dtype = DType::f32;  // i8: key / value row j is k[j] * k_scale[j] (v alike)
  AttnOperand q, k, v;
  AttnOperand k_scale, v_scale;  // i8 keys and values: float32 [batch, heads, seq] (row_stride = per key)
  void* out = nullptr;
  int64_t out_batch_stride = 0, out_head_stride = 0, out_row_stride = 0;
  int64_t batch = 0, heads = 0, head_dim = 0;
  int64_t q_len = 0, k_len = 0;          // padded layout: Sq and Sk (Sk = cache capacity)
  const int64_t* kv_lengths = nullptr;   // [batch]: keys >= length are excluded (padded layout)
  const int64_t* cu_seqlens = nullptr;   // [batch + 1]: packed layout (batch strides unused)
  AttnOperand mask;                      // additive [batch, heads, q, k]; data == nullptr if none
  bool causal = false;                   // key j allowed iff j <= i + (valid_keys - queries)
  float scale = 1.0f;
};

TF_ISA_DECLARE(void, attention_cpu, (const AttentionArgs& args))

// Checks one operand and fills its strides. Padded: [B, H, S, D]; packed: [T, H, D].
inline AttnOperand attn_operand(const TensorView& t, const char* name, bool packed, int64_t heads,
                                int64_t head_dim, DType dtype = DType::f32, bool on_cpu = true) {
  check_tensor_on(t, name, dtype, on_cpu, /*contiguous=*/false);
  TF_CHECK(t.dim() == (packed ? 3 : 4), name, packed ? ": expected [tokens, heads, head_dim]"
                                                       : ": expected [batch, heads, seq, head_dim]");
  TF_CHECK(t.size(-1) == head_dim && t.size(1) == heads, name, ": heads/head_dim differ from q");
  TF_CHECK(t.size(-1) <= 1 || t.strides.back() == 1, name, ": last dim must be contiguous");
  AttnOperand o;
  o.data = t.data;
  o.batch_stride = packed ? 0 : t.strides[0];
  o.head_stride = t.strides[1];
  o.row_stride = packed ? t.strides[0] : t.strides[2];
  return o;
}

// The checks of every device's front, and the kernel arguments (every tensor in `dtype`). Offsets and lengths are read here only where the host can
// read them (on_cpu); a CUDA caller passes max_seqlen (the longest packed sequence) and the Python op checks
// the values.
inline AttentionArgs attention_args(const TensorView& q, const TensorView& k, const TensorView& v,
                                    const TensorView& out, const TensorView* mask, const TensorView* kv_lengths,
                                    const TensorView* cu_seqlens, double scale, bool causal, DType dtype,
                                    bool on_cpu, int64_t max_seqlen = -1,
                                    std::optional<DType> kv_dtype = std::nullopt) {
  bool packed = cu_seqlens != nullptr;
  TF_CHECK(q.dim() == (packed ? 3 : 4), "q: expected ", packed ? "[tokens, heads, head_dim]" : "[batch, heads, seq, head_dim]");
  AttentionArgs a;
  a.dtype = dtype;
  a.kv_dtype = kv_dtype.value_or(dtype);
  a.heads = q.size(1);
  a.head_dim = q.size(-1);
  a.q = attn_operand(q, "q", packed, a.heads, a.head_dim, dtype, on_cpu);
  a.k = attn_operand(k, "k", packed, a.heads, a.head_dim, a.kv_dtype, on_cpu);
  a.v = attn_operand(v, "v", packed, a.heads, a.head_dim, a.kv_dtype, on_cpu);
  check_tensor_on(out, "out", dtype, on_cpu);
  check_same_shape(q, "q", out, "out");
  a.out = out.data;
  a.scale = static_cast<float>(scale);
  a.causal = causal;
  if (packed) {
    TF_CHECK(!mask && !kv_lengths, "cu_seqlens: attn_mask and kv_lengths are for the [batch, heads, seq, dim] layout");
    TF_CHECK(k.size(0) == q.size(0) && v.size(0) == q.size(0), "k, v: must have as many tokens as q");
    check_tensor_on(*cu_seqlens, "cu_seqlens", DType::i64, on_cpu);
    TF_CHECK(cu_seqlens->dim() == 1 && cu_seqlens->size(0) >= 1, "cu_seqlens: expected shape [batch + 1]");
    const int64_t* cu = cu_seqlens->ptr<int64_t>();
    a.batch = cu_seqlens->size(0) - 1;
    if (on_cpu) {
      TF_CHECK(cu[0] == 0, "cu_seqlens: must start at 0");
      for (int64_t b = 0; b < a.batch; ++b) {
        TF_CHECK(cu[b + 1] >= cu[b], "cu_seqlens: must be non-decreasing");
        a.q_len = std::max(a.q_len, cu[b + 1] - cu[b]);
      }
      TF_CHECK(cu[a.batch] <= q.size(0), "cu_seqlens: last offset ", cu[a.batch], " exceeds tokens ", q.size(0));
    } else {
      TF_CHECK(max_seqlen >= 0 && max_seqlen <= q.size(0), "max_seqlen: must be in [0, ", q.size(0), "], got ",
               max_seqlen);
      a.q_len = max_seqlen;
    }
    a.k_len = a.q_len;
    a.cu_seqlens = cu;
    a.out_row_stride = a.heads * a.head_dim;
    a.out_head_stride = a.head_dim;
  } else {
    a.batch = q.size(0);
    a.q_len = q.size(2);
    a.k_len = k.size(2);
    TF_CHECK(k.size(0) == a.batch && v.size(0) == a.batch, "k, v: batch differs from q");
    TF_CHECK(v.size(2) == a.k_len, "v: must have as many keys as k");
    a.out_batch_stride = a.heads * a.q_len * a.head_dim;
    a.out_head_stride = a.q_len * a.head_dim;
    a.out_row_stride = a.head_dim;
    if (kv_lengths) {
      check_tensor_on(*kv_lengths, "kv_lengths", DType::i64, on_cpu);
      TF_CHECK(kv_lengths->dim() == 1 && kv_lengths->size(0) == a.batch, "kv_lengths: expected shape [", a.batch, "]");
      for (int64_t b = 0; on_cpu && b < a.batch; ++b) {
        int64_t n = kv_lengths->ptr<int64_t>()[b];
        TF_CHECK(n >= 0 && n <= a.k_len, "kv_lengths: values must be in [0, ", a.k_len, "], got ", n);
      }
      a.kv_lengths = kv_lengths->ptr<int64_t>();
    }
    if (mask) {
      check_tensor_on(*mask, "attn_mask", dtype, on_cpu, /*contiguous=*/false);
      TF_CHECK(mask->dim() == 4 && mask->size(0) == a.batch && mask->size(1) == a.heads && mask->size(2) == a.q_len &&
                   mask->size(3) == a.k_len,
               "attn_mask: must be expanded to [batch, heads, q_len, k_len]");
      TF_CHECK(a.k_len <= 1 || mask->strides[3] == 1, "attn_mask: last dim must be contiguous");
      a.mask = {mask->data, mask->strides[0], mask->strides[1], mask->strides[2]};
    }
  }
  for (auto [t, name] : {std::pair{&q, "q"}, {&k, "k"}, {&v, "v"}, {mask, "attn_mask"}, {kv_lengths, "kv_lengths"},
                         {cu_seqlens, "cu_seqlens"}})
    check_no_overlap(out, "out", t, name);
  return a;
}

inline void attention(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                      const TensorView* mask, const TensorView* kv_lengths, const TensorView* cu_seqlens,
                      double scale, bool causal) {
  check_cpu_dtype(q, "q");
  AttentionArgs a = attention_args(q, k, v, out, mask, kv_lengths, cu_seqlens, scale, causal, q.dtype, true);
  TF_ISA_CALL(attention_cpu, a);
}

// ---- int8 keys and values (a quantized KV cache) ----

// One row of a quantized KV cache, symmetric: scale = max|x| / 127, q = round_half_even(x * (127 / max|x|)) (in
// [-127, 127]). A row of zeros gets scale 0; a row with a NaN or an infinity gets scale NaN and q 0, so that its
// dequantized values are NaN as the float cache would make the outputs.
inline float quantize_kv_row(const float* x, int64_t n, int8_t* q) {
  float amax = 0.0f;
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) {
    finite = finite && std::isfinite(x[i]);
    amax = std::max(amax, std::fabs(x[i]));
  }
  if (!finite || amax == 0.0f) {
    std::fill(q, q + n, int8_t{0});
    return finite ? 0.0f : NAN;
  }
  const float inv = 127.0f / amax;
  for (int64_t i = 0; i < n; ++i)
    q[i] = static_cast<int8_t>(std::max(-127.0f, std::min(127.0f, std::nearbyint(x[i] * inv))));
  return amax / 127.0f;
}

// q [..., D] int8 and scale [...] float32 = quantize_kv_row of every row of x [..., D] float32 (2 to 5 dims; any
// strides, last dim contiguous): e.g. a step's new keys and values written into their slots of the cache.
inline void quantize_kv(const TensorView& x, const TensorView& q, const TensorView& scale) {
  check_tensor(x, "x", DType::f32, /*contiguous=*/false);
  check_tensor(q, "q", DType::i8, /*contiguous=*/false);
  check_tensor(scale, "scale", DType::f32, /*contiguous=*/false);
  TF_CHECK(x.dim() >= 2 && x.dim() <= 5, "x: expected 2 to 5 dims [..., head_dim]");
  check_same_shape(x, "x", q, "q");
  bool same = scale.dim() == x.dim() - 1;
  for (int64_t i = 0; same && i < scale.dim(); ++i) same = scale.size(i) == x.size(i);
  TF_CHECK(same, "scale: expected the shape of x without its last dim");
  const int64_t n = x.size(-1), lead = x.dim() - 1;
  TF_CHECK(n <= 1 || (x.strides.back() == 1 && q.strides.back() == 1), "x, q: last dim must be contiguous");
  check_no_internal_overlap(q, "q");
  check_no_internal_overlap(scale, "scale");
  check_no_overlap(q, "q", &x, "x");
  check_no_overlap(scale, "scale", &x, "x");
  check_no_overlap(scale, "scale", &q, "q");
  // Every row: its index along the leading dims, counted down from the last like an odometer.
  std::vector<int64_t> at(lead, 0);
  const int64_t rows = scale.numel();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t xo = 0, qo = 0, so = 0;
    for (int64_t d = 0; d < lead; ++d)
      xo += at[d] * x.strides[d], qo += at[d] * q.strides[d], so += at[d] * scale.strides[d];
    scale.ptr<float>()[so] = quantize_kv_row(x.ptr<float>() + xo, n, q.ptr<int8_t>() + qo);
    for (int64_t d = lead - 1; d >= 0 && ++at[d] == x.size(d); --d) at[d] = 0;
  }
}

// The scales of int8 keys or values [B, H, S, D]: float32 [B, H, S], any strides.
inline AttnOperand attn_scale_operand(const TensorView& s, const char* name, const TensorView& rows) {
  check_tensor(s, name, DType::f32, /*contiguous=*/false);
  TF_CHECK(s.dim() == 3 && s.size(0) == rows.size(0) && s.size(1) == rows.size(1) && s.size(2) == rows.size(2), name,
           ": expected [batch, heads, k_len] of its int8 rows");
  AttnOperand o;
  o.data = s.data;
  o.batch_stride = s.strides[0], o.head_stride = s.strides[1], o.row_stride = s.strides[2];
  return o;
}

// attention() over int8 keys and values: q, mask and out float32 [B, H, Sq, D] / [B, H, Sq, Sk]; k, v int8
// [B, H, Sk, D] with k_scale, v_scale float32 [B, H, Sk]. Scores and sums in fp32, the rows dequantized as read.
inline void attention_int8_kv(const TensorView& q, const TensorView& k, const TensorView& k_scale, const TensorView& v,
                              const TensorView& v_scale, const TensorView& out, const TensorView* mask,
                              const TensorView* kv_lengths, double scale, bool causal) {
  AttentionArgs a = attention_args(q, k, v, out, mask, kv_lengths, nullptr, scale, causal, DType::f32, true, -1,
                                   DType::i8);
  a.k_scale = attn_scale_operand(k_scale, "k_scale", k);
  a.v_scale = attn_scale_operand(v_scale, "v_scale", v);
  check_no_overlap(out, "out", &k_scale, "k_scale");
  check_no_overlap(out, "out", &v_scale, "v_scale");
  TF_ISA_CALL(attention_cpu, a);
}

// The CUDA kernel (attention_cuda.cu): float32, float16 or bfloat16 (q, k, v, attn_mask and out alike; fp32
// accumulation), head_dim <= kAttentionCudaMaxHeadDim; max_seqlen: the longest packed sequence (packed layout).
constexpr int64_t kAttentionCudaMaxHeadDim = 256;
void attention_cuda(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                    const TensorView* mask, const TensorView* kv_lengths, const TensorView* cu_seqlens,
                    int64_t max_seqlen, double scale, bool causal, void* stream);

}  // namespace tf
