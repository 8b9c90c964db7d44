// The weights of one transformer layer for the one-call layer kernels (encoder_layer.h, decoder_layer.h):
// attention projections, MLP projections and the two LayerNorms, as views bound once from Python; and the
// scratch their activations live in.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/gemm_small.h"
#include "kernels/layer_norm.h"

namespace tf {

struct LayerWeights {
  TensorView qkv, qkv_bias;          // panels of [3 width, hidden], [3 width] (q, k, v rows in turn)
  TensorView out, out_bias;          // attention output: panels of [hidden, width], [hidden]
  TensorView ln1_weight, ln1_bias;   // [hidden]
  TensorView ffn_in, ffn_in_bias;    // panels of [inner, hidden], [inner]
  TensorView ffn_out, ffn_out_bias;  // panels of [hidden, inner], [hidden]
  TensorView ln2_weight, ln2_bias;   // [hidden]
  int64_t hidden = 0, heads = 0, head_dim = 0, inner = 0;
  double eps1 = 0, eps2 = 0;
  GemmAct activation = GemmAct::none;  // after ffn_in
};

// Checks the shapes against each other once, when the weights are bound.
inline void check_layer_weights(const LayerWeights& w) {
  TF_CHECK(w.hidden > 0 && w.heads > 0 && w.head_dim > 0 && w.inner > 0, "hidden, heads, head_dim, inner: must be > 0");
  TF_CHECK(w.eps1 >= 0 && w.eps2 >= 0, "eps: must be >= 0");
  const int64_t width = w.heads * w.head_dim;
  check_packed(w.qkv, DType::f32, 3 * width, w.hidden);
  check_packed(w.out, DType::f32, w.hidden, width);
  check_packed(w.ffn_in, DType::f32, w.inner, w.hidden);
  check_packed(w.ffn_out, DType::f32, w.hidden, w.inner);
  check_row_vector(&w.qkv_bias, "qkv_bias", 3 * width);
  check_row_vector(&w.ffn_in_bias, "ffn_in_bias", w.inner);
  for (const TensorView* t : {&w.out_bias, &w.ln1_weight, &w.ln1_bias, &w.ffn_out_bias, &w.ln2_weight, &w.ln2_bias})
    check_row_vector(t, "layer vector", w.hidden);
}

// Row-major [rows, cols] matrices carved one after another from this thread's scratch buffer, which is kept
// between calls: the activations of the one-call layer kernels (a few MB at the sizes they serve).
class ScratchMatrices {
 public:
  ScratchMatrices(int64_t rows, int64_t total_cols) : rows_(rows) {
    std::vector<float>& buffer = thread_buffer();
    buffer.resize(static_cast<size_t>(rows * total_cols));
    next_ = buffer.data();
  }
  TensorView take(int64_t cols) {
    TensorView v{next_, DType::f32, {rows_, cols}, {cols, 1}};
    next_ += rows_ * cols;
    return v;
  }

 private:
  static std::vector<float>& thread_buffer() {
    thread_local std::vector<float> buffer;
    return buffer;
  }
  int64_t rows_;
  float* next_;
};

}  // namespace tf
