"""OpenAI GPT: the classes of pytorch-transformers 1.2.0 with their call signatures and output tuples.

Post-LayerNorm blocks with the module and parameter names of the original checkpoints (Conv1D weights
[in, out]). No `past` in 1.2.0's forward; `generate` runs the fused decoder with a KV cache.
"""
from __future__ import annotations

import json
import os

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast.generation import GenerationMixin
from transformers_fast.modeling_outputs import BaseModelOutput, CausalLMOutput, DoubleHeadsModelOutput
from transformers_fast.modeling_utils import CheckpointedLayers, PreTrainedModel, SequenceSummary, assign_tf_weights
from transformers_fast.modules import (MLP, Attention, GPTBaseMixin, GPTInitWeightsMixin, gelu, gpt_tf_parameter, lm_loss,
                                      kept_positions, lm_loss_reads_padding, mc_loss, summary_reads_padding)
from transformers_fast.runtime import decoder as fast_decoder
from transformers_fast.models.openai.configuration_openai import (OPENAI_GPT_PRETRAINED_MODEL_ARCHIVE_MAP,
                                                                  OpenAIGPTConfig)

ACT_FNS = {"gelu": gelu, "relu": F.relu, "swish": F.silu, "silu": F.silu}


class Block(nn.Module):
    """Post-LayerNorm block: n = ln_1(x + attn(x)), h = ln_2(n + mlp(n))."""

    def __init__(self, n_ctx: int, config, scale: bool = False):
        super().__init__()
        nx = config.n_embd
        self.attn = Attention(nx, n_ctx, config, scale)
        self.attn.causal_fill = -1e4  # transformers' value (the padded positions' outputs depend on it)
        self.ln_1 = nn.LayerNorm(nx, eps=config.layer_norm_epsilon)
        self.mlp = MLP(4 * nx, config, act=ACT_FNS[config.afn])
        self.ln_2 = nn.LayerNorm(nx, eps=config.layer_norm_epsilon)

    def forward(self, x, attention_mask=None, head_mask=None, output_attentions=False):
        a, _, probs = self.attn(x, None, attention_mask, head_mask, False, output_attentions)
        n = self.ln_1(x + a)
        return self.ln_2(n + self.mlp(n)), probs


def load_tf_weights_in_openai_gpt(model, config, openai_checkpoint_folder_path):
    """Reads OpenAI's released GPT weights (parameters_names.json, params_shapes.json and the ten params_<n>.npy
    shards of one flat array, positions then tokens first) into model; needs NumPy, not TensorFlow."""
    import numpy as np

    folder = openai_checkpoint_folder_path
    if ".ckpt" in folder:
        folder = os.path.dirname(folder)
    with open(os.path.join(folder, "parameters_names.json"), encoding="utf-8") as f:
        names = json.load(f)
    with open(os.path.join(folder, "params_shapes.json"), encoding="utf-8") as f:
        shapes = json.load(f)
    flat = np.concatenate([np.load(os.path.join(folder, f"params_{n}.npy")) for n in range(10)], 0)
    offsets = np.cumsum([int(np.prod(shape)) for shape in shapes])
    arrays = [a.reshape(shape).squeeze() for a, shape in zip(np.split(flat, offsets)[:-1], shapes)]
    # The first name is that of the embedding matrix the positions and tokens were once one of.
    named = [("positions_embed", arrays[0]), ("tokens_embed", arrays[1])] + list(zip(names[1:], arrays[2:]))
    embeddings = {"positions_embed": ("positions_embed.weight", False), "tokens_embed": ("tokens_embed.weight", False)}
    return assign_tf_weights(model, named, lambda name: embeddings.get(name) or gpt_tf_parameter(name))


class OpenAIGPTPreTrainedModel(GPTInitWeightsMixin, PreTrainedModel):
    config_class = OpenAIGPTConfig
    pretrained_model_archive_map = OPENAI_GPT_PRETRAINED_MODEL_ARCHIVE_MAP
    base_model_prefix = "transformer"
    load_tf_weights = load_tf_weights_in_openai_gpt
    keys_to_ignore_on_load = (r"attn\.bias$", r"position_ids$")
    tied_head_keys = ("lm_head.weight",)
    prunes_whole_layers = False


class OpenAIGPTModel(CheckpointedLayers, GPTBaseMixin, OpenAIGPTPreTrainedModel):
    """Outputs: last_hidden_state, (hidden_states), (attentions)."""

    def __init__(self, config: OpenAIGPTConfig):
        super().__init__(config)
        self.tokens_embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.positions_embed = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([Block(config.n_ctx, config, scale=True) for _ in range(config.n_layer)])
        # read at build time, as in 1.2.0: a config changed later does not change the outputs
        self.output_attentions = config.output_attentions
        self.output_hidden_states = config.output_hidden_states
        self.fast = fast_decoder.DecoderFastPath(self)
        self.init_weights()

    def get_input_embeddings(self):
        return self.tokens_embed

    def set_input_embeddings(self, value):
        self.tokens_embed = value

    def get_position_embeddings(self):
        return self.positions_embed

    def forward(self, input_ids=None, position_ids=None, token_type_ids=None, head_mask=None, attention_mask=None,
                output_attentions=None, output_hidden_states=None, inputs_embeds=None):
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.output_hidden_states if output_hidden_states is None else output_hidden_states
        fused = self.fast.usable(self.positions_embed.weight, head_mask, output_attentions, output_hidden_states,
                                 (inputs_embeds,))
        if isinstance(attention_mask, torch.Tensor) and attention_mask.is_floating_point():
            # transformers (the only reference: 1.2.0 took no mask) adds (1 - mask) * dtype.min to the scores:
            # a key is seen only where a float mask is 1
            attention_mask = attention_mask >= 1
        hidden, mask, head_mask, input_shape = self.embed_inputs(input_ids, position_ids, token_type_ids,
                                                                 attention_mask, head_mask,
                                                                 inputs_embeds=inputs_embeds)
        output_shape = tuple(input_shape) + (hidden.shape[-1],)
        if fused:
            return BaseModelOutput(last_hidden_state=self.fast.forward(hidden, mask, None, False)[0].view(output_shape))
        all_hidden = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for i, block in enumerate(self.h):
            if output_hidden_states:
                all_hidden += (hidden.view(output_shape),)
            hidden, probs = self.run_layer(block, hidden, mask, head_mask[i], output_attentions)
            if output_attentions:  # [batch * choices, heads, seq, seq] as 1.2.0 (GPT-2 unflattens them)
                all_attentions += (probs,)
        hidden = hidden.view(output_shape)
        if output_hidden_states:
            all_hidden += (hidden,)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=all_attentions)


class OpenAIGPTLMHeadModel(GenerationMixin, OpenAIGPTPreTrainedModel):
    """Outputs: (loss), lm_logits, (hidden_states), (attentions). The LM head is tied to tokens_embed."""

    def __init__(self, config: OpenAIGPTConfig):
        super().__init__(config)
        self.transformer = OpenAIGPTModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.fast = fast_decoder.DecoderFastPath(self)
        self.init_weights()

    def get_output_embeddings(self):
        return self.lm_head

    def forward(self, input_ids=None, position_ids=None, token_type_ids=None, labels=None, head_mask=None,
                attention_mask=None, output_attentions=None, output_hidden_states=None, inputs_embeds=None,
                logits_to_keep=0):
        wanted = self.transformer.output_hidden_states if output_hidden_states is None else output_hidden_states
        # asking for the hidden states runs the reference path, which computes the padded positions a loss reads
        forced = not wanted and lm_loss_reads_padding(attention_mask, labels)
        outputs = self.transformer(input_ids, position_ids, token_type_ids, head_mask, attention_mask=attention_mask,
                                   output_attentions=output_attentions, output_hidden_states=wanted or forced,
                                   inputs_embeds=inputs_embeds)
        lm_logits = self.fast.lm_logits(kept_positions(outputs[0], logits_to_keep, labels), head_mask,
                                        output_attentions, output_hidden_states)
        loss = None if labels is None else lm_loss(lm_logits, labels, in_float32=True)
        return CausalLMOutput(loss=loss, logits=lm_logits, hidden_states=None if forced else outputs.hidden_states,
                              attentions=outputs.attentions)


class OpenAIGPTDoubleHeadsModel(OpenAIGPTPreTrainedModel):
    """Inputs [batch, num_choices, sequence]. Outputs: (lm_loss), (mc_loss), lm_logits, mc_logits,
    (hidden_states), (attentions)."""

    def __init__(self, config: OpenAIGPTConfig):
        super().__init__(config)
        self.transformer = OpenAIGPTModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.multiple_choice_head = SequenceSummary(config)
        self.fast = fast_decoder.DecoderFastPath(self)
        self.init_weights()

    def get_output_embeddings(self):
        return self.lm_head

    def forward(self, input_ids=None, mc_token_ids=None, lm_labels=None, mc_labels=None, token_type_ids=None,
                position_ids=None, head_mask=None, attention_mask=None, output_attentions=None,
                output_hidden_states=None, labels=None, inputs_embeds=None):
        lm_labels = labels if lm_labels is None else lm_labels
        wanted = self.transformer.output_hidden_states if output_hidden_states is None else output_hidden_states
        # asking for the hidden states runs the reference path, which computes the padded positions read
        forced = not wanted and (summary_reads_padding(attention_mask, mc_token_ids, input_ids, inputs_embeds,
                                                       self.multiple_choice_head.summary_type)
                                 or lm_loss_reads_padding(attention_mask, lm_labels))
        outputs = self.transformer(input_ids, position_ids, token_type_ids, head_mask, attention_mask=attention_mask,
                                   output_attentions=output_attentions, output_hidden_states=wanted or forced,
                                   inputs_embeds=inputs_embeds)
        hidden = outputs[0]
        lm_logits = self.fast.lm_logits(hidden, head_mask, output_attentions, output_hidden_states)
        mc_logits = self.multiple_choice_head(hidden, mc_token_ids).squeeze(-1)
        return DoubleHeadsModelOutput(
            loss=None if lm_labels is None else lm_loss(lm_logits, lm_labels),
            mc_loss=None if mc_labels is None else mc_loss(mc_logits, mc_labels),
            logits=lm_logits, mc_logits=mc_logits, hidden_states=None if forced else outputs.hidden_states,
            attentions=outputs.attentions)


# The remaining module-level names of 1.2.0's modeling module.
from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME  # noqa: E402,F401
OPENAI_GPT_START_DOCSTRING = "OpenAI GPT: a model of pytorch-transformers 1.2.0, run by transformers_fast.\n"
OPENAI_GPT_INPUTS_DOCSTRING = "Inputs: as the forward() of the same class in pytorch-transformers 1.2.0.\n"
from transformers_fast.models.openai.configuration_openai import OPENAI_GPT_PRETRAINED_CONFIG_ARCHIVE_MAP  # noqa: E402,F401,E501
swish = F.silu  # 1.2.0's x * sigmoid(x)
