"""GPT-2: the classes of pytorch-transformers 1.2.0 with their call signatures and output tuples.

Module and parameter names are those of the original checkpoints (Conv1D weights stored [in, out]), so
every state dict loads by name. `past` / `past_key_values` / `cache` take 1.2.0's presents (per layer a tensor
[2, batch, heads, past_len, head_dim]), today's (key, value) pairs or a transformers Cache; the returned
presents are in 1.2.0's format. The forward pass here is plain torch (training, head_mask, attentions);
`generate` runs the fused decoder of runtime/decoder.py with a preallocated KV cache on the same weights.
"""
from __future__ import annotations

import torch
from torch import nn

from transformers_fast.generation import GenerationMixin, is_transformers_cache
from transformers_fast.modeling_outputs import (BaseModelOutputWithPast, CausalLMOutputWithPast,
                                                DoubleHeadsModelOutput)
from transformers_fast.modeling_utils import (CheckpointedLayers, TRANSFORMERS_ACTIVATIONS, PreTrainedModel,
                                              SequenceSummary, assign_tf_weights, memory_in_dtype, tf_checkpoint_arrays)
from transformers_fast.modules import (MLP, Attention, GPTBaseMixin, GPTInitWeightsMixin, gpt_tf_parameter, lm_loss,
                                      kept_positions, lm_loss_reads_padding, mc_loss, refuse_cross_attention,
                                      summary_reads_padding)
from transformers_fast.modules import gelu  # noqa: F401  (a name of 1.2.0's modeling_gpt2)
from transformers_fast.runtime import decoder as fast_decoder
from transformers_fast.models.gpt2.configuration_gpt2 import GPT2_PRETRAINED_MODEL_ARCHIVE_MAP, GPT2Config


# transformers' activation_function names; the tanh GELU as modules.gelu, which the decoder fast path fuses
GPT2_ACTIVATIONS = {**TRANSFORMERS_ACTIVATIONS, "gelu": TRANSFORMERS_ACTIVATIONS["gelu_python"], "gelu_new": gelu,
                    "gelu_pytorch_tanh": gelu, "gelu_fast": gelu, "gelu_accurate": gelu}


class Block(nn.Module):
    """Pre-LayerNorm block: x + attn(ln_1(x)), then + mlp(ln_2(.))."""

    def __init__(self, n_ctx: int, config, scale: bool = False, layer_idx: int = 0):
        super().__init__()
        nx = config.n_embd
        self.ln_1 = nn.LayerNorm(nx, eps=config.layer_norm_epsilon)
        # transformers' options (1.2.0 had none of them): unscaled scores, scores divided by the layer's number
        self.attn = Attention(nx, n_ctx, config, scale and getattr(config, "scale_attn_weights", True))
        if getattr(config, "scale_attn_by_inverse_layer_idx", False):
            self.attn.score_divisor = float(layer_idx + 1)
        self.ln_2 = nn.LayerNorm(nx, eps=config.layer_norm_epsilon)
        self.mlp = MLP(getattr(config, "n_inner", None) or 4 * nx, config,
                       act=GPT2_ACTIVATIONS[getattr(config, "activation_function", "gelu_new")])

    def forward(self, x, layer_past=None, attention_mask=None, head_mask=None, use_cache=False,
                output_attentions=False):
        a, present, probs = self.attn(self.ln_1(x), layer_past, attention_mask, head_mask, use_cache,
                                      output_attentions)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, present, probs


def normalize_past(past, num_layers: int, dtype: torch.dtype):
    """Per-layer (key, value) in the model's dtype (memory_in_dtype) from 1.2.0 presents ([2, B, H, S, D] each),
    (key, value) pairs, or a transformers Cache; None when empty."""
    if past is None:
        return None
    layers = getattr(past, "layers", None)  # a transformers Cache (DynamicCache, StaticCache, ...)
    if layers is not None:
        if len(layers) == 0 or getattr(layers[0], "keys", None) is None or layers[0].keys.numel() == 0:
            return None
        # a StaticCache's tensors are preallocated to max_cache_len: only the first get_seq_length() are filled
        length = int(past.get_seq_length()) if hasattr(past, "get_seq_length") else layers[0].keys.shape[-2]
        if length == 0:
            return None
        past = [(layer.keys[..., :length, :], layer.values[..., :length, :]) for layer in layers]
    if not isinstance(past, (list, tuple)):
        raise TypeError(f"past must be a list of per-layer tensors [2, batch, heads, seq, head_dim], (key, value) "
                        f"pairs or a transformers Cache, got {type(past).__name__}")
    if len(past) != num_layers:
        raise ValueError(f"past has {len(past)} layers, the model has {num_layers}")
    out = []
    for i, layer in enumerate(past):
        if not isinstance(layer, (list, tuple, torch.Tensor)) or len(layer) != 2:
            got = f"{len(layer)} entries" if isinstance(layer, (list, tuple, torch.Tensor)) else type(layer).__name__
            raise ValueError(f"past[{i}] must hold a key and a value (a [2, batch, heads, seq, head_dim] tensor or a "
                             f"(key, value) pair), got {got}")
        key, value = layer[0], layer[1]
        if not isinstance(key, torch.Tensor) or key.dim() != 4 or key.shape != value.shape:
            raise ValueError(f"past[{i}] keys and values must be tensors [batch, heads, seq, head_dim] of one shape")
        out.append((memory_in_dtype(f"past[{i}]", key, dtype), memory_in_dtype(f"past[{i}]", value, dtype)))
    return out


def load_tf_weights_in_gpt2(model, config, gpt2_checkpoint_path):
    """Reads OpenAI's TensorFlow GPT-2 checkpoint into model; needs TensorFlow."""
    arrays = [(name, array.squeeze()) for name, array in tf_checkpoint_arrays(gpt2_checkpoint_path)]
    return assign_tf_weights(model, arrays, gpt_tf_parameter)


class GPT2PreTrainedModel(GPTInitWeightsMixin, PreTrainedModel):
    """Weight initialisation and loading shared by the GPT-2 classes."""

    config_class = GPT2Config
    pretrained_model_archive_map = GPT2_PRETRAINED_MODEL_ARCHIVE_MAP
    base_model_prefix = "transformer"
    load_tf_weights = load_tf_weights_in_gpt2
    # The causal-mask buffers that older checkpoints saved are rebuilt, not loaded.
    keys_to_ignore_on_load = (r"attn\.bias$", r"attn\.masked_bias$")
    tied_head_keys = ("lm_head.weight",)
    prunes_whole_layers = False


class GPT2Model(CheckpointedLayers, GPTBaseMixin, GPT2PreTrainedModel):
    """Outputs: last_hidden_state, presents (when use_cache), (hidden_states), (attentions)."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([Block(config.n_ctx, config, scale=True, layer_idx=i) for i in range(config.n_layer)])
        # read at build time, as in 1.2.0: a config changed later does not change the outputs
        self.output_attentions = config.output_attentions
        self.output_hidden_states = config.output_hidden_states
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.fast = fast_decoder.DecoderFastPath(self)
        self.init_weights()

    def get_input_embeddings(self):
        return self.wte

    def set_input_embeddings(self, value):
        self.wte = value

    def get_position_embeddings(self):
        return self.wpe

    def forward(self, input_ids=None, position_ids=None, token_type_ids=None, past=None, head_mask=None,
                attention_mask=None, past_key_values=None, use_cache=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None, cache=None, encoder_hidden_states=None,
                encoder_attention_mask=None):
        refuse_cross_attention(encoder_hidden_states, encoder_attention_mask)
        config = self.config
        if past is None:  # (`cache`: transformers 5.25's name for past_key_values)
            past = past_key_values if past_key_values is not None else cache
        # transformers' Cache objects are extended in place, as transformers does: a caller that passes the same
        # Cache again (rather than the returned presents) must find this call's keys and values in it
        cache = past if is_transformers_cache(past) else None
        past = normalize_past(past, len(self.h), self.wte.weight.dtype)
        past_length = 0 if past is None else past[0][0].shape[-2]
        use_cache = getattr(config, "use_cache", True) if use_cache is None else use_cache
        if cache is not None:
            outputs = self(input_ids, position_ids, token_type_ids, past, head_mask, attention_mask=attention_mask,
                           use_cache=True, output_attentions=output_attentions,
                           output_hidden_states=output_hidden_states, inputs_embeds=inputs_embeds)
            for i, present in enumerate(outputs.past_key_values):
                cache.update(present[0][..., past_length:, :], present[1][..., past_length:, :], i)
            return BaseModelOutputWithPast(last_hidden_state=outputs.last_hidden_state,
                                           past_key_values=cache if use_cache else None,
                                           hidden_states=outputs.hidden_states, attentions=outputs.attentions)
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.output_hidden_states if output_hidden_states is None else output_hidden_states
        fused = self.fast.usable(self.wpe.weight, head_mask, output_attentions, output_hidden_states,
                                 (inputs_embeds, past))
        hidden, mask, head_mask, input_shape = self.embed_inputs(input_ids, position_ids, token_type_ids,
                                                                 attention_mask, head_mask, past_length,
                                                                 inputs_embeds)
        if past is not None and past[0][0].shape[0] != hidden.shape[0]:
            raise ValueError(f"past holds {past[0][0].shape[0]} sequences but input_ids has {hidden.shape[0]}")
        for i, (block, (key, _)) in enumerate(zip(self.h, past or ())):
            heads = block.attn.n_head  # (per layer: pruning takes heads away)
            if key.shape[1] != heads or key.shape[-1] != block.attn.split_size // heads:
                raise ValueError(f"past[{i}] has {key.shape[1]} heads of width {key.shape[-1]}, layer {i} has "
                                 f"{heads} of width {block.attn.split_size // heads}")
        output_shape = tuple(input_shape) + (hidden.shape[-1],)
        if fused:
            hidden, presents = self.fast.forward(hidden, mask, past, use_cache)
            return BaseModelOutputWithPast(last_hidden_state=hidden.view(output_shape), past_key_values=presents)
        presents = () if use_cache else None
        all_hidden = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for i, block in enumerate(self.h):
            if output_hidden_states:
                all_hidden += (hidden.view(output_shape),)
            hidden, present, probs = self.run_layer(block, hidden, None if past is None else past[i], mask,
                                                    head_mask[i], use_cache, output_attentions)
            if use_cache:
                presents += (present,)
            if output_attentions:
                all_attentions += (probs.view(tuple(input_shape[:-1]) + (-1,) + probs.shape[-2:]),)
        hidden = self.ln_f(hidden).view(output_shape)
        if output_hidden_states:
            all_hidden += (hidden,)
        return BaseModelOutputWithPast(last_hidden_state=hidden, past_key_values=presents,
                                       hidden_states=all_hidden, attentions=all_attentions)


class GPT2LMHeadModel(GenerationMixin, GPT2PreTrainedModel):
    """Outputs: (loss), lm_logits, presents, (hidden_states), (attentions). The LM head is the token
    embedding matrix (tied)."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.fast = fast_decoder.DecoderFastPath(self)
        self.init_weights()

    def get_output_embeddings(self):
        return self.lm_head

    def _past_pairs(self, past):
        """generate's past_key_values / cache: normalize_past's (keys, values) per layer, checked against the
        layers' heads (their keys and values are stored into the fused decoder's cache as they are)."""
        pairs = normalize_past(past, len(self.transformer.h), self.transformer.wte.weight.dtype)
        for index, ((keys, _), block) in enumerate(zip(pairs or (), self.transformer.h)):
            heads, head_dim = block.attn.n_head, block.attn.split_size // block.attn.n_head
            if (keys.shape[1], keys.shape[3]) != (heads, head_dim):
                raise ValueError(f"past[{index}] has {keys.shape[1]} heads of {keys.shape[3]} dims, layer {index} "
                                 f"of the model {heads} heads of {head_dim}")
        return pairs

    def forward(self, input_ids=None, position_ids=None, token_type_ids=None, labels=None, past=None, head_mask=None,
                attention_mask=None, past_key_values=None, use_cache=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None, cache=None, logits_to_keep=0, encoder_hidden_states=None,
                encoder_attention_mask=None):
        refuse_cross_attention(encoder_hidden_states, encoder_attention_mask)
        wanted = self.transformer.output_hidden_states if output_hidden_states is None else output_hidden_states
        # asking for the hidden states runs the reference path, which computes the padded positions a loss reads
        forced = not wanted and lm_loss_reads_padding(attention_mask, labels)
        outputs = self.transformer(input_ids, position_ids, token_type_ids, past, head_mask,
                                   attention_mask=attention_mask, past_key_values=past_key_values, cache=cache,
                                   use_cache=use_cache, output_attentions=output_attentions,
                                   output_hidden_states=wanted or forced, inputs_embeds=inputs_embeds)
        lm_logits = self.fast.lm_logits(kept_positions(outputs[0], logits_to_keep, labels), head_mask,
                                        output_attentions, output_hidden_states)
        loss = None if labels is None else lm_loss(lm_logits, labels, in_float32=True)
        return CausalLMOutputWithPast(loss=loss, logits=lm_logits, past_key_values=outputs.past_key_values,
                                      hidden_states=None if forced else outputs.hidden_states,
                                      attentions=outputs.attentions)


class GPT2DoubleHeadsModel(GPT2PreTrainedModel):
    """Inputs [batch, num_choices, sequence]. Outputs: (lm_loss), (mc_loss), lm_logits, mc_logits, presents,
    (hidden_states), (attentions)."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.multiple_choice_head = SequenceSummary(config)
        self.fast = fast_decoder.DecoderFastPath(self)
        self.init_weights()

    def get_output_embeddings(self):
        return self.lm_head

    def forward(self, input_ids=None, mc_token_ids=None, lm_labels=None, mc_labels=None, token_type_ids=None,
                position_ids=None, past=None, head_mask=None, attention_mask=None, past_key_values=None,
                use_cache=None, output_attentions=None, output_hidden_states=None, labels=None,
                inputs_embeds=None, cache=None):
        lm_labels = labels if lm_labels is None else lm_labels
        wanted = self.transformer.output_hidden_states if output_hidden_states is None else output_hidden_states
        # asking for the hidden states runs the reference path, which computes the padded positions read
        forced = not wanted and (summary_reads_padding(attention_mask, mc_token_ids, input_ids, inputs_embeds,
                                                       self.multiple_choice_head.summary_type)
                                 or lm_loss_reads_padding(attention_mask, lm_labels))
        outputs = self.transformer(input_ids, position_ids, token_type_ids, past, head_mask,
                                   attention_mask=attention_mask, past_key_values=past_key_values, cache=cache,
                                   use_cache=use_cache, output_attentions=output_attentions,
                                   output_hidden_states=wanted or forced, inputs_embeds=inputs_embeds)
        hidden = outputs[0]
        lm_logits = self.fast.lm_logits(hidden, head_mask, output_attentions, output_hidden_states)
        mc_logits = self.multiple_choice_head(hidden, mc_token_ids).squeeze(-1)
        return DoubleHeadsModelOutput(
            loss=None if lm_labels is None else lm_loss(lm_logits, lm_labels),
            mc_loss=None if mc_labels is None else mc_loss(mc_logits, mc_labels),
            logits=lm_logits, mc_logits=mc_logits, past_key_values=outputs.past_key_values,
            hidden_states=None if forced else outputs.hidden_states, attentions=outputs.attentions)


# The remaining module-level names of 1.2.0's modeling module.
from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME  # noqa: E402,F401
GPT2_START_DOCSTRING = "GPT-2: a model of pytorch-transformers 1.2.0, run by transformers_fast.\n"
GPT2_INPUTS_DOCSTRING = "Inputs: as the forward() of the same class in pytorch-transformers 1.2.0.\n"
from transformers_fast.models.gpt2.configuration_gpt2 import GPT2_PRETRAINED_CONFIG_ARCHIVE_MAP  # noqa: E402,F401
