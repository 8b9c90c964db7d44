// The weights of one transformer layer for the one-call layer kernels (encoder_layer.h, decoder_layer.h):
// attention projections, MLP projections and the two LayerNorms, as views bound once from Python; and the
// scratch their activations live in.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/gemm_int8.h"
#include "kernels/gemm_small.h"
#include "kernels/layer_norm.h"

namespace tf {

// One projection of a layer: float32 panels (gemm_small_pack), or in an int8-quantized model the int8 panels
// with their column sums and per-output scales (gemm_int8_pack).
struct LayerProjection {
  TensorView weight;         // float32 [panels, k, 16] or int8 [panels, ceil(k / 4), 64]
  TensorView colsum, scale;  // int8 only: [panels * 16] int32, [n] float32
  bool int8() const { return weight.dtype == DType::i8; }
};

// out [rows, n] = act(x [rows, k] W^T + bias) on the projection's kernel.
inline void project(const TensorView& x, const LayerProjection& p, const TensorView* bias, const TensorView& out,
                    int64_t n, GemmAct act) {
  if (p.int8())
    gemm_int8(x, p.weight, p.colsum, p.scale, bias, out, n, act);
  else
    gemm_small(x, p.weight, bias, out, n, act);
}

inline void check_projection(const LayerProjection& p, int64_t n, int64_t k, DType dtype) {
  if (!p.int8()) return check_packed(p.weight, dtype, n, k);
  TF_CHECK(k <= kInt8MaxK, "int8 projection: at most ", kInt8MaxK, " in_features, got ", k);
  check_int8_packed(p.weight, p.colsum, n, k);
  check_tensor(p.scale, "weight_scale", DType::f32);
  TF_CHECK(p.scale.dim() == 1 && p.scale.size(0) == n, "weight_scale: expected shape [", n, "]");
}

struct LayerWeights {
  LayerProjection qkv;               // [3 width, hidden] (q, k, v rows in turn)
  TensorView qkv_bias;               // [3 width]
  LayerProjection out;               // attention output: [hidden, width]
  TensorView out_bias;               // [hidden]
  TensorView ln1_weight, ln1_bias;   // [hidden]
  LayerProjection ffn_in;            // [inner, hidden]
  TensorView ffn_in_bias;            // [inner]
  LayerProjection ffn_out;           // [hidden, inner]
  TensorView ffn_out_bias;           // [hidden]
  TensorView ln2_weight, ln2_bias;   // [hidden]
  int64_t hidden = 0, heads = 0, head_dim = 0, inner = 0;
  double eps1 = 0, eps2 = 0;
  GemmAct activation = GemmAct::none;  // after ffn_in
  // Of the activations, the float projections' panels, the biases and the LayerNorms: float32, or bfloat16
  // (no int8 projection then); check_layer_weights holds every tensor to it.
  DType dtype() const { return qkv_bias.dtype; }
};

// Checks the shapes against each other once, when the weights are bound.
inline void check_layer_weights(const LayerWeights& w) {
  TF_CHECK(w.hidden > 0 && w.heads > 0 && w.head_dim > 0 && w.inner > 0, "hidden, heads, head_dim, inner: must be > 0");
  // (their products size the projections and the scratch: bounded so that those cannot overflow int64)
  constexpr int64_t kMax = int64_t{1} << 31;
  TF_CHECK(w.hidden <= kMax && w.heads <= kMax && w.head_dim <= kMax && w.inner <= kMax &&
               w.heads * w.head_dim <= kMax,
           "hidden, heads, head_dim, inner, heads * head_dim: must be at most 2^31");
  TF_CHECK(w.eps1 >= 0 && w.eps2 >= 0, "eps: must be >= 0");
  const int64_t width = w.heads * w.head_dim;
  const DType dtype = w.dtype();
  TF_CHECK(dtype == DType::f32 || dtype == DType::bf16, "layer weights: expected float32 or bfloat16, got ",
           dtype_name(dtype));
  for (const LayerProjection* p : {&w.qkv, &w.out, &w.ffn_in, &w.ffn_out})
    TF_CHECK(!p->int8() || dtype == DType::f32, "layer weights: int8 projections take float32 activations");
  check_projection(w.qkv, 3 * width, w.hidden, dtype);
  check_projection(w.out, w.hidden, width, dtype);
  check_projection(w.ffn_in, w.inner, w.hidden, dtype);
  check_projection(w.ffn_out, w.hidden, w.inner, dtype);
  check_row_vector(&w.qkv_bias, "qkv_bias", 3 * width, dtype);
  check_row_vector(&w.ffn_in_bias, "ffn_in_bias", w.inner, dtype);
  for (const TensorView* t : {&w.out_bias, &w.ln1_weight, &w.ln1_bias, &w.ffn_out_bias, &w.ln2_weight, &w.ln2_bias})
    check_row_vector(t, "layer vector", w.hidden, dtype);
}

// Row-major [rows, cols] matrices of `dtype` carved one after another from this thread's scratch buffer, which
// is kept between calls: the activations of the one-call layer kernels (a few MB at the sizes they serve).
class ScratchMatrices {
 public:
  ScratchMatrices(int64_t rows, int64_t total_cols, DType dtype = DType::f32) : rows_(rows), dtype_(dtype) {
    std::vector<float>& buffer = thread_buffer();  // (floats: aligned for either dtype)
    const int64_t bytes = rows * total_cols * dtype_size(dtype);
    buffer.resize(static_cast<size_t>((bytes + 3) / 4));
    next_ = reinterpret_cast<char*>(buffer.data());
  }
  TensorView take(int64_t cols) {
    TensorView v{next_, dtype_, {rows_, cols}, {cols, 1}};
    next_ += rows_ * cols * dtype_size(dtype_);
    return v;
  }

 private:
  static std::vector<float>& thread_buffer() {
    thread_local std::vector<float> buffer;
    return buffer;
  }
  int64_t rows_;
  DType dtype_;
  char* next_;
};

}  // namespace tf
