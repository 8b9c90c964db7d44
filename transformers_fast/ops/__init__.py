"""Fused ops, each usable on its own: validate tensors, run the C++ kernel (CPU) or fall back to torch."""
from transformers_fast.ops._backend import (capturing_graph, cpu_features, cpu_isa, emulate_cuda, empty_large,
                                            has_extension, has_kernels, on_cuda, parallel_backend)
from transformers_fast.ops.activation import bias_gelu, gelu
from transformers_fast.ops.attention import attention
from transformers_fast.ops.layer import OneCallChoice, bind_layer_weights, decoder_layer_step, encoder_layer
from transformers_fast.ops.layer_norm import add_layer_norm, layer_norm
from transformers_fast.ops.packed_linear import PackedLinear, linear
from transformers_fast.ops.quantized_linear import QuantizedEmbedding, QuantizedLinear, is_quantized
from transformers_fast.ops.projection import projection
from transformers_fast.ops.relative_attention import relative_attention
from transformers_fast.ops.softmax import logsumexp_update_, masked_softmax

__all__ = ["gelu", "bias_gelu", "layer_norm", "add_layer_norm", "masked_softmax", "logsumexp_update_", "empty_large",
           "attention", "relative_attention",
           "PackedLinear", "linear", "QuantizedLinear", "QuantizedEmbedding", "is_quantized", "projection", "cpu_isa", "cpu_features",
           "has_extension", "has_kernels", "parallel_backend", "encoder_layer", "decoder_layer_step",
           "bind_layer_weights", "OneCallChoice", "on_cuda", "emulate_cuda", "capturing_graph"]
