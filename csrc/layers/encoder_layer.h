// One post-LayerNorm encoder layer (BERT, RoBERTa, DistilBERT, XLM) on packed tokens, float32 or bfloat16, in
// one call: fused QKV projection, attention per sequence, output projection + residual + LayerNorm, FFN (bias +
// GELU in the GEMM epilogue), FFN output + residual + LayerNorm. Every projection runs on the small-row GEMM, so
// this serves small batches, where seven calls from Python per layer cost about as much as their work.
#pragma once
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/gemm_small.h"
#include "kernels/layer_norm.h"
#include "layers/layer_weights.h"

namespace tf {

// x [tokens, hidden] -> out [tokens, hidden]; cu_seqlens [batch + 1] int64 offsets of the sequences in x.
inline void encoder_layer(const TensorView& x, const TensorView& cu_seqlens, const LayerWeights& w,
                          const TensorView& out, double scale) {
  const DType dtype = w.dtype();  // float32, or bfloat16 throughout (fp32 sums and statistics inside the kernels)
  check_tensor(x, "x", dtype);
  TF_CHECK(x.dim() == 2 && x.size(1) == w.hidden, "x: expected [tokens, ", w.hidden, "]");
  check_tensor(out, "out", dtype);
  check_same_shape(x, "x", out, "out");
  const int64_t tokens = x.size(0), hidden = w.hidden, width = w.heads * w.head_dim, inner = w.inner;
  check_tensor(cu_seqlens, "cu_seqlens", DType::i64);
  TF_CHECK(cu_seqlens.dim() == 1 && cu_seqlens.size(0) >= 1 &&
               cu_seqlens.ptr<int64_t>()[cu_seqlens.size(0) - 1] == tokens,
           "cu_seqlens: expected [batch + 1] offsets ending at the ", tokens, " tokens of x");
  if (tokens == 0) return;  // (the scratch below would be empty: no pointer to offset into)
  ScratchMatrices scratch(tokens, 3 * width + width + 2 * hidden + inner, dtype);
  TensorView qkv = scratch.take(3 * width), context = scratch.take(width), projected = scratch.take(hidden),
             attended = scratch.take(hidden), activated = scratch.take(inner);

  project(x, w.qkv, &w.qkv_bias, qkv, 3 * width, GemmAct::none);
  auto heads_of = [&](int part) {  // q, k or v as a [tokens, heads, head_dim] view into qkv
    return TensorView{static_cast<char*>(qkv.data) + part * width * dtype_size(dtype), dtype,
                      {tokens, w.heads, w.head_dim}, {3 * width, w.head_dim, 1}};
  };
  TensorView context_heads{context.data, dtype, {tokens, w.heads, w.head_dim}, {width, w.head_dim, 1}};
  attention(heads_of(0), heads_of(1), heads_of(2), context_heads, nullptr, nullptr, &cu_seqlens, scale, false);
  project(context, w.out, nullptr, projected, hidden, GemmAct::none);
  add_layer_norm(projected, &x, &w.out_bias, &w.ln1_weight, &w.ln1_bias, attended, w.eps1);
  project(attended, w.ffn_in, &w.ffn_in_bias, activated, inner, w.activation);
  project(activated, w.ffn_out, nullptr, projected, hidden, GemmAct::none);
  add_layer_norm(projected, &attended, &w.ffn_out_bias, &w.ln2_weight, &w.ln2_bias, out, w.eps2);
}

}  // namespace tf
