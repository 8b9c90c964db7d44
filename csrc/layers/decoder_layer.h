// One decoder block (GPT-2's pre-LayerNorm or OpenAI GPT's post-LayerNorm) for one decode step, in one call,
// float32 or bfloat16: fused QKV projection, the new key and value written into the layer's cache slot, attention
// over the cache, output projection and residual, MLP (bias + tanh GELU in the GEMM epilogue) and residual, with
// the two LayerNorms before (pre) or after (post) each part. Every projection runs on the small-row GEMM; the
// dozen calls from Python per block it replaces cost ~4 % of a float32 batch-1 token, ~12 % of a bfloat16 one.
#pragma once
#include <cstdint>
#include <cstring>

#include "common/bfloat16.h"
#include "kernels/attention.h"
#include "kernels/gemm_small.h"
#include "kernels/layer_norm.h"
#include "layers/layer_weights.h"

namespace tf {

// x += y over n elements of x's dtype; bfloat16 rounds each sum as torch's add_ does.
inline void add_in_place(const TensorView& x, const TensorView& y, int64_t n) {
  if (x.dtype == DType::bf16) {
    bf16* a = static_cast<bf16*>(x.data);
    const bf16* b = static_cast<const bf16*>(y.data);
    for (int64_t i = 0; i < n; ++i) a[i] = float_to_bf16(bf16_to_float(a[i]) + bf16_to_float(b[i]));
  } else {
    float* a = x.ptr<float>();
    const float* b = y.ptr<float>();
    for (int64_t i = 0; i < n; ++i) a[i] += b[i];
  }
}

// x [batch, hidden]: the residual stream, updated in place (pre_ln: GPT-2's block, else OpenAI GPT's).
// kv [batch, 2, heads, capacity, head_dim]: this layer's cache (keys, values); the step writes slot
// `position` and attends over slots [0, position]. The layer's dtype (float32 or bfloat16; x and key_bias
// too), or with float32 layers int8 with kv_scale [batch, 2, heads, capacity] float32 (one scale per key and
// value row, quantize_kv_row).
// key_bias [batch, capacity] (additive: 0 or -inf for left padding) or nullptr.
inline void decoder_layer_step(const TensorView& x, const TensorView& kv, const TensorView* kv_scale, int64_t position,
                               const TensorView* key_bias, const LayerWeights& w, double scale, bool pre_ln) {
  const DType dtype = w.dtype();  // float32, or bfloat16 throughout (fp32 sums and statistics inside the kernels)
  const int64_t element = dtype_size(dtype);
  check_tensor(x, "x", dtype);
  TF_CHECK(x.dim() == 2 && x.size(1) == w.hidden, "x: expected [batch, ", w.hidden, "]");
  const int64_t batch = x.size(0), hidden = w.hidden, heads = w.heads, dim = w.head_dim;
  const int64_t width = heads * dim, inner = w.inner;
  const bool int8_cache = kv_scale != nullptr;
  TF_CHECK(!int8_cache || dtype == DType::f32, "kv_scale: an int8 cache goes with float32 layers");
  check_tensor(kv, "kv", int8_cache ? DType::i8 : dtype);
  TF_CHECK(kv.dim() == 5 && kv.size(0) == batch && kv.size(1) == 2 && kv.size(2) == heads && kv.size(4) == dim,
           "kv: expected [", batch, ", 2, ", heads, ", capacity, ", dim, "]");
  const int64_t capacity = kv.size(3);
  if (int8_cache) {
    check_tensor(*kv_scale, "kv_scale", DType::f32);
    TF_CHECK(kv_scale->dim() == 4 && kv_scale->size(0) == batch && kv_scale->size(1) == 2 &&
                 kv_scale->size(2) == heads && kv_scale->size(3) == capacity,
             "kv_scale: expected [", batch, ", 2, ", heads, ", ", capacity, "]");
  }
  TF_CHECK(position >= 0 && position < capacity, "position: must be in [0, ", capacity, "), got ", position);
  if (key_bias) {
    check_tensor(*key_bias, "key_bias", dtype);
    TF_CHECK(key_bias->dim() == 2 && key_bias->size(0) == batch && key_bias->size(1) == capacity,
             "key_bias: expected [", batch, ", ", capacity, "]");
  }
  // x, kv and kv_scale are written: none may share memory with another argument
  check_no_overlap(x, "x", &kv, "kv");
  check_no_overlap(x, "x", kv_scale, "kv_scale");
  check_no_overlap(kv, "kv", kv_scale, "kv_scale");
  for (auto [t, name] : {std::pair{&x, "x"}, {&kv, "kv"}, {kv_scale, "kv_scale"}})
    if (t) check_no_overlap(*t, name, key_bias, "key_bias");
  if (batch == 0) return;  // (the scratch below would be empty: no pointer to offset into)
  ScratchMatrices scratch(batch, 2 * hidden + 3 * width + width + inner, dtype);
  TensorView normed = scratch.take(hidden), qkv = scratch.take(3 * width), context = scratch.take(width),
             added = scratch.take(hidden), activated = scratch.take(inner);

  // Post-LN: x = LN(x + part) through `normed`, copied back (the residual stream stays in x).
  auto residual_norm = [&](const TensorView& part, const TensorView& weight, const TensorView& bias, double eps) {
    add_layer_norm(part, &x, nullptr, &weight, &bias, normed, eps);
    std::memcpy(x.data, normed.data, static_cast<size_t>(batch * hidden * element));
  };
  if (pre_ln) add_layer_norm(x, nullptr, nullptr, &w.ln1_weight, &w.ln1_bias, normed, w.eps1);
  project(pre_ln ? normed : x, w.qkv, &w.qkv_bias, qkv, 3 * width, GemmAct::none);
  const int64_t head_stride = capacity * dim, part_stride = heads * head_stride, batch_stride = 2 * part_stride;
  const int64_t scale_part = heads * capacity, scale_batch = 2 * scale_part;  // (kv_scale)
  for (int64_t b = 0; b < batch; ++b)
    for (int part = 0; part < 2; ++part)
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t from = b * 3 * width + (part + 1) * width + h * dim;
        const int64_t slot = b * batch_stride + part * part_stride + h * head_stride + position * dim;
        if (int8_cache)
          kv_scale->ptr<float>()[b * scale_batch + part * scale_part + h * capacity + position] =
              quantize_kv_row(qkv.ptr<float>() + from, dim, kv.ptr<int8_t>() + slot);
        else
          std::memcpy(static_cast<char*>(kv.data) + slot * element, static_cast<const char*>(qkv.data) + from * element,
                      static_cast<size_t>(dim * element));
      }
  const int64_t keys = position + 1;
  const DType kv_dtype = int8_cache ? DType::i8 : dtype;
  TensorView q{qkv.data, dtype, {batch, heads, 1, dim}, {3 * width, dim, 3 * width, 1}};
  TensorView k{kv.data, kv_dtype, {batch, heads, keys, dim}, {batch_stride, head_stride, dim, 1}};
  void* values = static_cast<char*>(kv.data) + part_stride * dtype_size(kv_dtype);
  TensorView v{values, kv_dtype, {batch, heads, keys, dim}, {batch_stride, head_stride, dim, 1}};
  TensorView out{context.data, dtype, {batch, heads, 1, dim}, {width, dim, dim, 1}};
  TensorView mask;
  if (key_bias) mask = TensorView{key_bias->data, dtype, {batch, heads, 1, keys}, {capacity, 0, 0, 1}};
  if (int8_cache) {
    TensorView k_scale{kv_scale->data, DType::f32, {batch, heads, keys}, {scale_batch, capacity, 1}};
    TensorView v_scale{kv_scale->ptr<float>() + scale_part, DType::f32, {batch, heads, keys},
                       {scale_batch, capacity, 1}};
    attention_int8_kv(q, k, k_scale, v, v_scale, out, key_bias ? &mask : nullptr, nullptr, scale, false);
  } else {
    attention(q, k, v, out, key_bias ? &mask : nullptr, nullptr, nullptr, scale, false);
  }
  project(context, w.out, &w.out_bias, added, hidden, GemmAct::none);
  if (pre_ln) {
    add_in_place(x, added, batch * hidden);
    add_layer_norm(x, nullptr, nullptr, &w.ln2_weight, &w.ln2_bias, normed, w.eps2);
  } else {
    residual_norm(added, w.ln1_weight, w.ln1_bias, w.eps1);
  }
  project(pre_ln ? normed : x, w.ffn_in, &w.ffn_in_bias, activated, inner, w.activation);
  project(activated, w.ffn_out, &w.ffn_out_bias, added, hidden, GemmAct::none);
  if (pre_ln) add_in_place(x, added, batch * hidden);
  else residual_norm(added, w.ln2_weight, w.ln2_bias, w.eps2);
}

}  // namespace tf
