"""XLNet: the classes of pytorch-transformers 1.2.0 with their call signatures and output tuples.

Module and parameter names are those of the checkpoints of 1.2.0 and of current transformers (they agree), so
every state dict loads by name. The forward of every class follows 1.2.0: sequence-first inside
([len, batch, d_model]), `mems` in and out (config.mem_len, config.reuse_len; the memory is the input of each
layer), perm_mask and target_mapping (two-stream attention), token_type_ids as relative segment encodings,
input_mask (1 = padding) or attention_mask (1 = token), attn_type "bi"/"uni", bi_data, clamp_len, same_length,
head_mask. ff_activation "gelu" is the tanh form, as in 1.2.0.

The layers run in plain torch here (training, head_mask, output_attentions, tracing); in inference they run on
the fast path of runtime/xlnet.py (fused QKV GEMM, relative attention kernel, fused bias+GELU and
residual+LayerNorm) with the same inputs and outputs.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast.generation_placeholder import PlaceholderGenerationMixin
from transformers_fast.modeling_outputs import (XLNetForQuestionAnsweringOutput, XLNetForSequenceClassificationOutput,
                                                XLNetLMHeadModelOutput, XLNetModelOutput)
from transformers_fast.modeling_utils import (CheckpointedLayers, PoolerAnswerClass, PoolerEndLogits, PoolerStartLogits,
                                              PreTrainedModel, SequenceSummary, TRANSFORMERS_ACTIVATIONS, assign_tf_map,
                                              check_ids, check_token_inputs, embedding_rows, expand_head_mask, loss_ignoring_negative,
                                              memory_in_dtype, squad_head_forward, tf_checkpoint_arrays)
from transformers_fast.modules import classification_loss, kept_positions
from transformers_fast.ops import QuantizedLinear
from transformers_fast.runtime.fast_path import LinearFastPath
from transformers_fast.runtime.xlnet import XLNetFastPath
from transformers_fast.models.xlnet.configuration_xlnet import (XLNET_PRETRAINED_CONFIG_ARCHIVE_MAP,  # noqa: F401
                                                                XLNET_PRETRAINED_MODEL_ARCHIVE_MAP, XLNetConfig)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """OpenAI GPT's GELU (tanh approximation), which XLNet uses."""
    return F.gelu(x, approximate="tanh")


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


ACT2FN = {"gelu": gelu, "relu": F.relu, "swish": swish}
# transformers' names for the same functions (a config written by transformers may hold them)
_ACTIVATION_ALIASES = {**TRANSFORMERS_ACTIVATIONS, "gelu_new": gelu, "gelu_pytorch_tanh": gelu, "silu": swish,
                       "gelu_python": F.gelu}

XLNetLayerNorm = nn.LayerNorm


def activation(name_or_fn):
    if callable(name_or_fn):
        return name_or_fn
    return ACT2FN.get(name_or_fn) or _ACTIVATION_ALIASES[name_or_fn]


class XLNetRelativeAttention(nn.Module):
    """Two-stream relative multi-head attention with the post-attention projection, residual and LayerNorm.
    Weights q, k, v, o, r are [d_model, n_head, d_head] (einsum form); in a quantized model they are int8
    QuantizedLinear submodules instead (see quantize_projections)."""

    PROJECTIONS = ("q", "k", "v", "o", "r")

    def __init__(self, config: XLNetConfig):
        super().__init__()
        self.output_attentions = config.output_attentions
        self.n_head = config.n_head
        self.d_head = config.d_head
        self.d_model = config.d_model
        self.scale = 1 / (config.d_head ** 0.5)
        # Uninitialised here, as in 1.2.0 (the model's _init_weights fills them).
        for name in self.PROJECTIONS:
            setattr(self, name, nn.Parameter(torch.empty(config.d_model, self.n_head, self.d_head)))
        self.r_r_bias = nn.Parameter(torch.empty(self.n_head, self.d_head))
        self.r_s_bias = nn.Parameter(torch.empty(self.n_head, self.d_head))
        self.r_w_bias = nn.Parameter(torch.empty(self.n_head, self.d_head))
        self.seg_embed = nn.Parameter(torch.empty(2, self.n_head, self.d_head))
        self.layer_norm = XLNetLayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def quantize_projections(self) -> int:
        """transformers_fast.quantize's hook: q, k, v, o, r become int8 QuantizedLinear layers (per output channel:
        q, k, v, r map d_model to n_head * d_head, o maps n_head * d_head back to d_model), saved as
        `<name>.weight_int8` and `<name>.weight_scale`; the biases and segment embeddings stay float. A meta
        weight (from_pretrained of a quantized folder) gives meta buffers. Returns how many were quantized now."""
        done = 0
        for name in self.PROJECTIONS:
            w = getattr(self, name)
            if isinstance(w, QuantizedLinear):
                continue
            w = w.detach().reshape(self.d_model, self.n_head * self.d_head)
            delattr(self, name)  # the Parameter, replaced by a submodule of the same name
            setattr(self, name, QuantizedLinear.from_weight(w if name == "o" else w.t()))
            done += 1
        return done

    def _project(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """x [len, batch, d_model] -> [len, batch, n_head, d_head] through projection `name`."""
        w = getattr(self, name)
        if isinstance(w, QuantizedLinear):
            return w(x).view(*x.shape[:2], self.n_head, self.d_head)
        return torch.einsum("ibh,hnd->ibnd", x, w)

    def prune_heads(self, heads):
        raise NotImplementedError("XLNet heads cannot be pruned (as in pytorch-transformers 1.2.0)")

    @staticmethod
    def rel_shift(x: torch.Tensor, klen: int = -1) -> torch.Tensor:
        """1.2.0's relative shift of scores [qlen, rlen, batch, heads] -> [qlen, klen, batch, heads]."""
        x_size = x.shape
        x = x.reshape(x_size[1], x_size[0], x_size[2], x_size[3])[1:]
        x = x.reshape(x_size[0], x_size[1] - 1, x_size[2], x_size[3])
        return torch.index_select(x, 1, torch.arange(klen, device=x.device, dtype=torch.long))

    @staticmethod
    def rel_shift_bnij(x: torch.Tensor, klen: int = -1) -> torch.Tensor:
        """The same shift on scores [batch, heads, qlen, rlen] -> [batch, heads, qlen, klen]."""
        x_size = x.shape
        x = x.reshape(x_size[0], x_size[1], x_size[3], x_size[2])[:, :, 1:, :]
        x = x.reshape(x_size[0], x_size[1], x_size[2], x_size[3] - 1)
        return torch.index_select(x, 3, torch.arange(klen, device=x.device, dtype=torch.long))

    def rel_attn_core(self, q_head, k_head_h, v_head_h, k_head_r, seg_mat=None, attn_mask=None, head_mask=None,
                      output_attentions=False):
        """Scores of content, position and segment, masked softmax, weighted values: attn_vec [qlen, batch,
        heads, d_head] (and the probabilities [batch, heads, qlen, klen])."""
        ac = torch.einsum("ibnd,jbnd->bnij", q_head + self.r_w_bias, k_head_h)
        bd = torch.einsum("ibnd,jbnd->bnij", q_head + self.r_r_bias, k_head_r)
        bd = self.rel_shift_bnij(bd, klen=ac.shape[3])
        if seg_mat is None:
            ef = 0
        else:
            ef = torch.einsum("ibnd,snd->ibns", q_head + self.r_s_bias, self.seg_embed)
            ef = torch.einsum("ijbs,ibns->bnij", seg_mat, ef)
        attn_score = (ac + bd + ef) * self.scale
        if attn_mask is not None:  # [qlen, klen, batch or 1, 1], 1.0 = masked
            big = 65500 if attn_mask.dtype == torch.float16 else 1e30
            attn_score = attn_score - big * torch.einsum("ijbn->bnij", attn_mask)
        attn_prob = F.softmax(attn_score, dim=3)
        if not isinstance(self.dropout, nn.Dropout) or (self.dropout.training and self.dropout.p > 0):
            # the mask drawn in 1.2.0's [qlen, klen, batch, heads] layout: a seeded run gets its random draws (and a
            # module put in the dropout's place sees 1.2.0's layout)
            attn_prob = self.dropout(attn_prob.permute(2, 3, 0, 1).contiguous()).permute(2, 3, 0, 1)
        if head_mask is not None:
            attn_prob = attn_prob * head_mask
        attn_vec = torch.einsum("bnij,jbnd->ibnd", attn_prob, v_head_h)
        return (attn_vec, attn_prob) if output_attentions else (attn_vec, None)

    def post_attention(self, h, attn_vec, residual=True):
        if isinstance(self.o, QuantizedLinear):
            attn_out = self.o(attn_vec.reshape(*attn_vec.shape[:2], -1))
        else:
            attn_out = torch.einsum("ibnd,hnd->ibh", attn_vec, self.o)
        attn_out = self.dropout(attn_out)
        if residual:
            attn_out = attn_out + h
        return self.layer_norm(attn_out)

    def forward(self, h, g, attn_mask_h, attn_mask_g, r, seg_mat, mems=None, target_mapping=None, head_mask=None,
                output_attentions=None):
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        cat = torch.cat([mems, h], dim=0) if mems is not None and mems.dim() > 1 else h
        k_head_h = self._project(cat, "k")
        v_head_h = self._project(cat, "v")
        k_head_r = self._project(r, "r")
        q_head_h = self._project(h, "q")
        attn_vec_h, prob_h = self.rel_attn_core(q_head_h, k_head_h, v_head_h, k_head_r, seg_mat, attn_mask_h,
                                                head_mask, output_attentions)
        output_h = self.post_attention(h, attn_vec_h)
        output_g, prob = None, prob_h
        if g is not None:
            q_head_g = self._project(g, "q")
            if target_mapping is not None:
                q_head_g = torch.einsum("mbnd,mlb->lbnd", q_head_g, target_mapping)
            attn_vec_g, prob_g = self.rel_attn_core(q_head_g, k_head_h, v_head_h, k_head_r, seg_mat, attn_mask_g,
                                                    head_mask, output_attentions)
            if target_mapping is not None:
                attn_vec_g = torch.einsum("lbnd,mlb->mbnd", attn_vec_g, target_mapping)
            output_g = self.post_attention(g, attn_vec_g)
            prob = (prob_h, prob_g)
        return (output_h, output_g, prob) if output_attentions else (output_h, output_g)


class XLNetFeedForward(nn.Module):
    def __init__(self, config: XLNetConfig):
        super().__init__()
        self.layer_norm = XLNetLayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.layer_1 = nn.Linear(config.d_model, config.d_inner)
        self.layer_2 = nn.Linear(config.d_inner, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.activation_function = activation(config.ff_activation)

    def forward(self, inp):
        output = self.dropout(self.activation_function(self.layer_1(inp)))
        output = self.dropout(self.layer_2(output))
        return self.layer_norm(output + inp)


class XLNetLayer(nn.Module):
    def __init__(self, config: XLNetConfig):
        super().__init__()
        self.rel_attn = XLNetRelativeAttention(config)
        self.ff = XLNetFeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, output_h, output_g, attn_mask_h, attn_mask_g, r, seg_mat, mems=None, target_mapping=None,
                head_mask=None, output_attentions=None):
        outputs = self.rel_attn(output_h, output_g, attn_mask_h, attn_mask_g, r, seg_mat, mems=mems,
                                target_mapping=target_mapping, head_mask=head_mask,
                                output_attentions=output_attentions)
        output_h, output_g = outputs[:2]
        if output_g is not None:
            output_g = self.ff(output_g)
        output_h = self.ff(output_h)
        return (output_h, output_g) + tuple(outputs[2:])


def build_tf_xlnet_to_pytorch_map(model, config, tf_weights=None):
    """The TensorFlow names of Google's XLNet checkpoints -> the parameter each fills (a list of per-layer
    parameters for the relative-position biases and segment embeddings, stacked by layer in TensorFlow), as 1.2.0."""
    tf_weights = tf_weights or {}
    tf_to_pt_map = {}
    if hasattr(model, "transformer"):
        if hasattr(model, "lm_loss"):
            tf_to_pt_map["model/lm_loss/bias"] = model.lm_loss.bias
        if hasattr(model, "sequence_summary") and "model/sequnece_summary/summary/kernel" in tf_weights:
            tf_to_pt_map["model/sequnece_summary/summary/kernel"] = model.sequence_summary.summary.weight
            tf_to_pt_map["model/sequnece_summary/summary/bias"] = model.sequence_summary.summary.bias
        task = getattr(config, "finetuning_task", None)
        if hasattr(model, "logits_proj") and task is not None and f"model/regression_{task}/logit/kernel" in tf_weights:
            tf_to_pt_map[f"model/regression_{task}/logit/kernel"] = model.logits_proj.weight
            tf_to_pt_map[f"model/regression_{task}/logit/bias"] = model.logits_proj.bias
        model = model.transformer
    tf_to_pt_map["model/transformer/word_embedding/lookup_table"] = model.word_embedding.weight
    tf_to_pt_map["model/transformer/mask_emb/mask_emb"] = model.mask_emb
    for i, block in enumerate(model.layer):
        attn, ff, prefix = block.rel_attn, block.ff, f"model/transformer/layer_{i}/"
        tf_to_pt_map.update({
            prefix + "rel_attn/LayerNorm/gamma": attn.layer_norm.weight,
            prefix + "rel_attn/LayerNorm/beta": attn.layer_norm.bias,
            prefix + "rel_attn/o/kernel": attn.o, prefix + "rel_attn/q/kernel": attn.q,
            prefix + "rel_attn/k/kernel": attn.k, prefix + "rel_attn/r/kernel": attn.r,
            prefix + "rel_attn/v/kernel": attn.v,
            prefix + "ff/LayerNorm/gamma": ff.layer_norm.weight, prefix + "ff/LayerNorm/beta": ff.layer_norm.bias,
            prefix + "ff/layer_1/kernel": ff.layer_1.weight, prefix + "ff/layer_1/bias": ff.layer_1.bias,
            prefix + "ff/layer_2/kernel": ff.layer_2.weight, prefix + "ff/layer_2/bias": ff.layer_2.bias,
        })
    for name in ("r_r_bias", "r_w_bias", "r_s_bias", "seg_embed"):
        tf_to_pt_map[f"model/transformer/{name}"] = [getattr(block.rel_attn, name) for block in model.layer]
    return tf_to_pt_map


def load_tf_weights_in_xlnet(model, config, tf_path):
    """Reads Google's TensorFlow XLNet checkpoint into model; needs TensorFlow."""
    tf_weights = dict(tf_checkpoint_arrays(tf_path))
    # Dense layers are transposed; the attention projections keep TensorFlow's [d_model, n_head, d_head].
    assign_tf_map(build_tf_xlnet_to_pytorch_map(model, config, tf_weights), tf_weights,
                  lambda name: "kernel" in name and ("ff" in name or "summary" in name or "logit" in name),
                  required=False)
    return model


class XLNetPreTrainedModel(PreTrainedModel):
    """Weight initialisation (1.2.0's) and loading shared by the XLNet classes."""

    config_class = XLNetConfig
    pretrained_model_archive_map = XLNET_PRETRAINED_MODEL_ARCHIVE_MAP
    base_model_prefix = "transformer"
    load_tf_weights = load_tf_weights_in_xlnet
    tied_head_keys = ("lm_loss.weight",)

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, XLNetLayerNorm):
            nn.init.zeros_(module.bias)
            nn.init.ones_(module.weight)
        elif isinstance(module, XLNetRelativeAttention):
            for param in (module.q, module.k, module.v, module.o, module.r, module.r_r_bias, module.r_s_bias,
                          module.r_w_bias, module.seg_embed):
                if isinstance(param, nn.Parameter):  # (int8 projections are QuantizedLinear layers)
                    nn.init.normal_(param, mean=0.0, std=std)
        elif isinstance(module, XLNetModel):
            nn.init.normal_(module.mask_emb, mean=0.0, std=std)


def _check_float_map(name: str, t, shape) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.is_complex():
        raise TypeError(f"{name} must hold 0/1 values (float, int or bool), got dtype {t.dtype}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {tuple(shape)}")
    return t


class XLNetModel(CheckpointedLayers, XLNetPreTrainedModel):
    """Outputs: last_hidden_state [batch, seq (num_predict with target_mapping), d_model], mems (per layer
    [mem_len, batch, d_model]; a tuple of None without config.mem_len), (hidden_states), (attentions).

    Extra keyword arguments (not in 1.2.0): output_attentions, output_hidden_states (override the config),
    use_mems=False (no mems output, as transformers; by default a transformers config's use_mems_eval /
    use_mems_train); use_mems=True given: without mem_len, mems of every position so far, as transformers."""

    def __init__(self, config: XLNetConfig):
        super().__init__(config)
        self.output_attentions = config.output_attentions
        self.output_hidden_states = config.output_hidden_states
        self.mem_len = config.mem_len
        self.reuse_len = config.reuse_len
        self.d_model = config.d_model
        self.same_length = config.same_length
        self.attn_type = config.attn_type
        self.bi_data = config.bi_data
        self.clamp_len = config.clamp_len
        self.n_layer = config.n_layer

        self.word_embedding = nn.Embedding(config.n_token, config.d_model)
        self.mask_emb = nn.Parameter(torch.empty(1, 1, config.d_model))
        self.layer = nn.ModuleList([XLNetLayer(config) for _ in range(config.n_layer)])
        self.dropout = nn.Dropout(config.dropout)
        self.fast = XLNetFastPath(self, activation)
        self.init_weights()

    def get_input_embeddings(self):
        return self.word_embedding

    def set_input_embeddings(self, value):
        self.word_embedding = value

    def _prune_heads(self, heads_to_prune):
        raise NotImplementedError("XLNet heads cannot be pruned (as in pytorch-transformers 1.2.0)")

    def create_mask(self, qlen: int, mlen: int) -> torch.Tensor:
        """Causal mask [qlen, mlen + qlen], 1.0 = masked (same_length: every query sees the same number of keys)."""
        attn_mask = torch.ones([qlen, qlen])
        mask_up = torch.triu(attn_mask, diagonal=1)
        ret = torch.cat([torch.zeros([qlen, mlen]), mask_up], dim=1)
        if self.same_length:
            mask_lo = torch.tril(attn_mask, diagonal=-1)
            ret = torch.cat([ret[:, :qlen] + mask_lo, ret[:, qlen:]], dim=1)
        p = self.mask_emb  # (float: the word table may be int8)
        return ret.to(device=p.device, dtype=p.dtype)

    def cache_mem(self, curr_out: torch.Tensor, prev_mem: Optional[torch.Tensor],
                  keep_all: bool = False) -> Optional[torch.Tensor]:
        """The next memory of a layer: its input (the first reuse_len positions), after the previous memory,
        the last mem_len positions kept; without mem_len None (1.2.0), or with keep_all every position
        (transformers)."""
        if not self.mem_len and not keep_all:
            return None
        if self.reuse_len is not None and self.reuse_len > 0:
            curr_out = curr_out[:self.reuse_len]
        new_mem = curr_out if prev_mem is None else torch.cat([prev_mem, curr_out], dim=0)
        return (new_mem[-self.mem_len:] if self.mem_len else new_mem).detach()

    @staticmethod
    def positional_embedding(pos_seq: torch.Tensor, inv_freq: torch.Tensor, bsz: Optional[int] = None):
        sinusoid_inp = torch.einsum("i,d->id", pos_seq, inv_freq)
        pos_emb = torch.cat([torch.sin(sinusoid_inp), torch.cos(sinusoid_inp)], dim=-1)[:, None, :]
        return pos_emb if bsz is None else pos_emb.expand(-1, bsz, -1)

    def relative_positional_encoding(self, qlen: int, klen: int, bsz: Optional[int] = None) -> torch.Tensor:
        """Sinusoidal embeddings of the relative distances klen .. -qlen (bi) or klen .. -1 (uni):
        [rlen, batch, d_model]; with bi_data the first half of the batch gets the forward distances, the second
        half the backward ones."""
        device = self.mask_emb.device
        freq_seq = torch.arange(0, self.d_model, 2.0, dtype=torch.float, device=device)
        inv_freq = 1 / torch.pow(10000, (freq_seq / self.d_model))
        if self.attn_type == "bi":
            beg, end = klen, -qlen
        elif self.attn_type == "uni":
            beg, end = klen, -1
        else:
            raise ValueError(f"Unknown `attn_type` {self.attn_type}.")
        fwd_pos_seq = torch.arange(beg, end, -1.0, dtype=torch.float, device=device)
        if self.clamp_len > 0:
            fwd_pos_seq = fwd_pos_seq.clamp(-self.clamp_len, self.clamp_len)
        if self.bi_data:
            bwd_pos_seq = torch.arange(-beg, -end, 1.0, dtype=torch.float, device=device)
            if self.clamp_len > 0:
                bwd_pos_seq = bwd_pos_seq.clamp(-self.clamp_len, self.clamp_len)
            half = None if bsz is None else bsz // 2
            pos_emb = torch.cat([self.positional_embedding(fwd_pos_seq, inv_freq, half),
                                 self.positional_embedding(bwd_pos_seq, inv_freq, half)], dim=1)
        else:
            pos_emb = self.positional_embedding(fwd_pos_seq, inv_freq, bsz)
        return pos_emb.to(self.mask_emb.dtype)

    # ---- forward ----
    def _check_inputs(self, input_ids, token_type_ids, input_mask, attention_mask, mems, perm_mask, target_mapping,
                      inputs_embeds=None):
        inputs_embeds, name, shape = check_token_inputs(input_ids, inputs_embeds, embedding_rows(self.word_embedding),
                                                        "config.n_token", self.mask_emb, "d_model", self.d_model)
        bsz, qlen = shape
        if qlen == 0:  # (a batch of no sequence is empty outputs, as in 1.2.0)
            raise ValueError(f"{name} is empty (shape {tuple(shape)}): at least one token is needed")
        if token_type_ids is not None:  # segment ids are only compared for equality: any integers
            check_ids("token_type_ids", token_type_ids, None, "segment ids", shape)
        if input_mask is not None and attention_mask is not None:
            raise ValueError("give input_mask (1 = padding) or attention_mask (1 = token), not both")
        for name, t in (("input_mask", input_mask), ("attention_mask", attention_mask)):
            if t is not None:
                _check_float_map(name, t, (bsz, qlen))
        if perm_mask is not None:
            _check_float_map("perm_mask", perm_mask, (bsz, qlen, qlen))
        if target_mapping is not None:
            if not isinstance(target_mapping, torch.Tensor) or target_mapping.dim() != 3:
                raise ValueError("target_mapping must be a tensor [batch, num_predict, sequence], got "
                                 f"{getattr(target_mapping, 'shape', type(target_mapping).__name__)}")
            _check_float_map("target_mapping", target_mapping, (bsz, target_mapping.shape[1], qlen))
        if self.bi_data and bsz % 2:
            raise ValueError(f"bi_data=True needs an even batch (its halves get forward and backward positions), "
                             f"got batch {bsz}")
        mlen = 0
        if mems is not None:
            if not isinstance(mems, (list, tuple)) or len(mems) != self.n_layer:
                raise ValueError(f"mems must be a list of {self.n_layer} tensors [mem_len, batch, d_model] (one per "
                                 f"layer, as the model returns them), got {type(mems).__name__}"
                                 + (f" of length {len(mems)}" if isinstance(mems, (list, tuple)) else ""))
            if mems[0] is not None:
                mlen = mems[0].shape[0]
                for i, mem in enumerate(mems):
                    if not isinstance(mem, torch.Tensor) or mem.dim() != 3 or mem.shape[0] != mlen \
                            or mem.shape[1:] != (bsz, self.d_model):
                        raise ValueError(f"mems[{i}] must be a tensor [mem_len, batch, d_model] = [{mlen}, {bsz}, "
                                         f"{self.d_model}], got {getattr(mem, 'shape', type(mem).__name__)}")
                mems = [memory_in_dtype(f"mems[{i}]", mem, self.mask_emb.dtype) for i, mem in enumerate(mems)]
        return bsz, qlen, mlen, mems, inputs_embeds

    def forward(self, input_ids=None, token_type_ids=None, input_mask=None, attention_mask=None, mems=None,
                perm_mask=None, target_mapping=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, use_mems=None, inputs_embeds=None):
        bsz, qlen, mlen, mems, inputs_embeds = self._check_inputs(
            input_ids, token_type_ids, input_mask, attention_mask, mems, perm_mask, target_mapping, inputs_embeds)
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.output_hidden_states if output_hidden_states is None else output_hidden_states
        keep_all_mems = use_mems is True  # (given: transformers' mems, every position without mem_len)
        if use_mems is None:  # a transformers config's default (1.2.0's configs have neither field: mems returned)
            use_mems = getattr(self.config, "use_mems_train" if self.training else "use_mems_eval", None)
        klen = mlen + qlen
        weight = self.mask_emb  # the model's float dtype and device (the word table may be int8)
        dtype_float, device = weight.dtype, weight.device

        # Sequence-first, as the original code: [len, batch].
        if inputs_embeds is None:
            inputs_embeds = self.word_embedding(input_ids.transpose(0, 1).contiguous())
        else:
            inputs_embeds = inputs_embeds.transpose(0, 1).contiguous()
        token_type_ids = token_type_ids.transpose(0, 1).contiguous() if token_type_ids is not None else None
        input_mask = input_mask.transpose(0, 1).to(dtype_float) if input_mask is not None else None
        attention_mask = attention_mask.transpose(0, 1).to(dtype_float) if attention_mask is not None else None
        perm_mask = perm_mask.permute(1, 2, 0).to(dtype_float) if perm_mask is not None else None
        target_mapping = target_mapping.permute(1, 2, 0).to(dtype_float) if target_mapping is not None else None

        # Masks, 1.0 = masked: attn_mask [qlen, klen, batch or 1, 1] for the query stream, non_tgt_mask for the
        # content stream (a position always sees itself).
        attn_mask = self.create_mask(qlen, mlen)[:, :, None, None] if self.attn_type == "uni" else None
        if input_mask is None and attention_mask is not None:
            input_mask = 1.0 - attention_mask
        data_mask = None
        if input_mask is not None and perm_mask is not None:
            data_mask = input_mask[None] + perm_mask
        elif input_mask is not None:
            data_mask = input_mask[None]
        elif perm_mask is not None:
            data_mask = perm_mask
        if data_mask is not None:
            mems_mask = torch.zeros([data_mask.shape[0], mlen, bsz], dtype=data_mask.dtype, device=data_mask.device)
            data_mask = torch.cat([mems_mask, data_mask], dim=1)
            # out of place: 1.2.0's `+=` fails for attn_type "uni" with a data mask and batch > 1
            attn_mask = data_mask[:, :, :, None] if attn_mask is None else attn_mask + data_mask[:, :, :, None]
        non_tgt_mask = None
        if attn_mask is not None:
            attn_mask = (attn_mask > 0).to(dtype_float)
            non_tgt_mask = -torch.eye(qlen, device=device).to(dtype_float)  # (torch < 2.2 has no bf16 eye)
            non_tgt_mask = torch.cat([torch.zeros([qlen, mlen], dtype=dtype_float, device=device), non_tgt_mask], -1)
            non_tgt_mask = ((attn_mask + non_tgt_mask[:, :, None, None]) > 0).to(dtype_float)

        output_h = self.dropout(inputs_embeds)
        output_g = None
        if target_mapping is not None:
            output_g = self.dropout(self.mask_emb.expand(target_mapping.shape[0], bsz, -1))

        seg_diff = None  # [qlen, klen, batch], True where query and key are in different segments
        if token_type_ids is not None:
            cat_ids = torch.cat([torch.zeros([mlen, bsz], dtype=token_type_ids.dtype, device=device), token_type_ids])
            seg_diff = token_type_ids[:, None] != cat_ids[None, :]

        pos_emb = self.dropout(self.relative_positional_encoding(qlen, klen, bsz=bsz))

        fused = self.fast.usable(weight, head_mask, output_attentions, (inputs_embeds, mems))
        # (no row, or no prediction target: empty outputs, which the reference path gives without a kernel call)
        fused = fused and bsz > 0 and (target_mapping is None or target_mapping.shape[0] > 0)
        if fused:
            layers = self.fast.layers()
            # what the (input-independent) position embeddings depend on: the fast path keeps their projections
            pos_key = (qlen, klen, bsz if self.bi_data else 0, self.attn_type, self.bi_data, self.clamp_len,
                       self.d_model, dtype_float, device)
            mask_h = None if non_tgt_mask is None else non_tgt_mask[..., 0] > 0
            # ([1, klen, batch] from a padding mask alone: the kernel takes one row per query)
            mask_g = None if attn_mask is None else (attn_mask[..., 0] > 0).expand(qlen, -1, -1)
        else:
            seg_mat = None if seg_diff is None else F.one_hot(seg_diff.long(), num_classes=2).to(dtype_float)
            per_layer = isinstance(head_mask, torch.Tensor) and head_mask.dim() > 2
            head_mask = expand_head_mask(head_mask, self.n_layer, self.config.n_head, dtype_float)
            if per_layer:  # given in 1.2.0's [qlen, klen, batch, heads] layout: to ours, [batch, heads, qlen, klen]
                head_mask = head_mask.reshape(head_mask.shape[:1] + (1,) * (5 - head_mask.dim()) + head_mask.shape[1:])
                head_mask = head_mask.permute(0, 3, 4, 1, 2)

        new_mems = ()
        if mems is None:
            mems = [None] * len(self.layer)
        attentions, hidden_states = [], []
        for i, layer_module in enumerate(self.layer):
            if use_mems is not False:
                new_mems = new_mems + (self.cache_mem(output_h, mems[i], keep_all_mems),)
            if output_hidden_states:
                hidden_states.append((output_h, output_g) if output_g is not None else output_h)
            if fused:
                output_h, output_g = self.fast.layer(i, layers, output_h, output_g, mask_h, mask_g, pos_emb,
                                                     self.bi_data, seg_diff, mems[i], target_mapping, pos_key)
                continue
            outputs = self.run_layer(layer_module, output_h, output_g, attn_mask_h=non_tgt_mask, attn_mask_g=attn_mask,
                                     r=pos_emb, seg_mat=seg_mat, mems=mems[i], target_mapping=target_mapping,
                                     head_mask=head_mask[i], output_attentions=output_attentions)
            output_h, output_g = outputs[:2]
            if output_attentions:
                attentions.append(outputs[2])
        if output_hidden_states:
            hidden_states.append((output_h, output_g) if output_g is not None else output_h)

        output = self.dropout(output_g if output_g is not None else output_h).permute(1, 0, 2).contiguous()
        if output_hidden_states:
            hidden_states = tuple(h.permute(1, 0, 2).contiguous() for hs in hidden_states
                                  for h in (hs if isinstance(hs, tuple) else (hs,)))
        if output_attentions:  # [batch, heads, qlen, klen]; per layer a (content, query) pair with two streams
            attentions = tuple(tuple(a.contiguous() for a in t) if isinstance(t, tuple) else t.contiguous()
                               for t in attentions)
        if use_mems is False or (torch.jit.is_tracing() and all(m is None for m in new_mems)):
            new_mems = None  # a trace cannot output None: without mem_len a traced model returns no mems
        return XLNetModelOutput(last_hidden_state=output, mems=new_mems,
                                hidden_states=hidden_states if output_hidden_states else None,
                                attentions=attentions if output_attentions else None)


def _base_kwargs(token_type_ids, input_mask, attention_mask, mems, perm_mask, target_mapping, head_mask,
                 output_attentions, output_hidden_states, use_mems, inputs_embeds):
    return dict(token_type_ids=token_type_ids, input_mask=input_mask, attention_mask=attention_mask, mems=mems,
                perm_mask=perm_mask, target_mapping=target_mapping, head_mask=head_mask,
                output_attentions=output_attentions, output_hidden_states=output_hidden_states, use_mems=use_mems,
                inputs_embeds=inputs_embeds)


class XLNetLMHeadModel(PlaceholderGenerationMixin, XLNetPreTrainedModel):
    """Outputs: (loss), logits [batch, seq (num_predict with target_mapping), n_token], mems, (hidden_states),
    (attentions). The output projection is the word embedding matrix (tied) with its own bias. labels are not
    shifted (as in 1.2.0); -1 and -100 are ignored.

    generate / stream_generate: as transformers' (see generation_placeholder), each step predicts a dummy token
    appended to the sequence."""

    def __init__(self, config: XLNetConfig):
        super().__init__(config)
        self.attn_type = config.attn_type
        self.same_length = config.same_length
        self.transformer = XLNetModel(config)
        self.lm_loss = nn.Linear(config.d_model, config.n_token, bias=True)
        self.head_fast = LinearFastPath(self, "lm_loss")  # (prepacked for inference)
        self.init_weights()

    def get_output_embeddings(self):
        return self.lm_loss

    def forward(self, input_ids=None, token_type_ids=None, input_mask=None, attention_mask=None, mems=None,
                perm_mask=None, target_mapping=None, labels=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, use_mems=None, inputs_embeds=None, logits_to_keep=0):
        outputs = self.transformer(input_ids, **_base_kwargs(token_type_ids, input_mask, attention_mask, mems,
                                                             perm_mask, target_mapping, head_mask, output_attentions,
                                                             output_hidden_states, use_mems, inputs_embeds))
        hidden = kept_positions(outputs[0], logits_to_keep, labels)
        if self.transformer.fast.enabled and self.head_fast.usable(hidden):
            logits = self.head_fast(hidden)
        else:
            logits = self.lm_loss(hidden)
        loss = None
        if labels is not None:
            if not isinstance(labels, torch.Tensor) or labels.shape != logits.shape[:-1]:
                raise ValueError(f"labels must have shape {tuple(logits.shape[:-1])}, got "
                                 f"{getattr(labels, 'shape', type(labels).__name__)}")
            loss = loss_ignoring_negative(logits, labels)
        return XLNetLMHeadModelOutput(loss=loss, logits=logits, mems=outputs.mems, hidden_states=outputs.hidden_states,
                                      attentions=outputs.attentions)

    def _placeholder_step(self, ids, mems, use_cache: bool, outputs: dict):
        """transformers' generate step: token 0 appended, which no position sees (perm_mask) and which is predicted
        (target_mapping). Where the forward returns mems (config.use_mems_eval, transformers' default in eval; every
        position without mem_len), the next step runs the last two tokens and the dummy over the mems less their
        last two positions (transformers' offset 2), else the whole sequence again. use_cache changes nothing, as
        transformers."""
        if mems is not None:
            ids, mems = ids[:, -2:], [layer[:-2] for layer in mems]
        ids = self._with_placeholder(ids, 0)
        rows, length = ids.shape
        perm_mask = torch.zeros((rows, length, length), device=ids.device)
        perm_mask[:, :, -1] = 1.0
        target_mapping = torch.zeros((rows, 1, length), device=ids.device)
        target_mapping[:, 0, -1] = 1.0
        out = self(ids, mems=mems, perm_mask=perm_mask, target_mapping=target_mapping,
                   use_mems=bool(getattr(self.config, "use_mems_eval", True)), **outputs)
        return out, out.mems

    @staticmethod
    def _reorder_placeholder_cache(mems, rows: torch.Tensor) -> list:
        return [layer[:, rows] for layer in mems]  # ([length, rows, d_model])

    @staticmethod
    def _placeholder_returned_cache(mems):
        return mems


class XLNetForSequenceClassification(XLNetPreTrainedModel):
    """Outputs: (loss), logits [batch, num_labels], mems, (hidden_states), (attentions). The summary reads the
    last position (config.summary_type "last"): left-pad batches, as XLNet's tokenizer does."""

    def __init__(self, config: XLNetConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = XLNetModel(config)
        self.sequence_summary = SequenceSummary(config)
        # summary_proj_to_labels projects the summary to num_labels, which logits_proj cannot read: both
        # references build such a model and crash inside torch on every forward
        width = getattr(self.sequence_summary.summary, "out_features", config.d_model)
        if width != config.d_model:
            raise ValueError(f"summary_proj_to_labels=True with summary_use_proj=True gives a summary of num_labels "
                             f"({width}) features, but XLNet's logits_proj reads d_model ({config.d_model}): "
                             f"set summary_proj_to_labels=False")
        self.logits_proj = nn.Linear(config.d_model, config.num_labels)
        self.init_weights()

    def forward(self, input_ids=None, token_type_ids=None, input_mask=None, attention_mask=None, mems=None,
                perm_mask=None, target_mapping=None, labels=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, use_mems=None, inputs_embeds=None):
        outputs = self.transformer(input_ids, **_base_kwargs(token_type_ids, input_mask, attention_mask, mems,
                                                             perm_mask, target_mapping, head_mask, output_attentions,
                                                             output_hidden_states, use_mems, inputs_embeds))
        logits = self.logits_proj(self.sequence_summary(outputs[0]))
        loss = None if labels is None else classification_loss(logits, labels, self.num_labels,
                                                                  getattr(self.config, "problem_type", None))
        return XLNetForSequenceClassificationOutput(loss=loss, logits=logits, mems=outputs.mems,
                                                    hidden_states=outputs.hidden_states, attentions=outputs.attentions)


class XLNetForQuestionAnswering(XLNetPreTrainedModel):
    """SQuAD head with beam search. With start_positions and end_positions: (loss), mems, (hidden_states),
    (attentions); otherwise start_top_log_probs, start_top_index [batch, start_n_top], end_top_log_probs,
    end_top_index [batch, start_n_top * end_n_top], cls_logits [batch], mems, ... ("log_probs" are
    probabilities, as in 1.2.0)."""

    def __init__(self, config: XLNetConfig):
        super().__init__(config)
        self.start_n_top = config.start_n_top
        self.end_n_top = config.end_n_top
        self.transformer = XLNetModel(config)
        self.start_logits = PoolerStartLogits(config)
        self.end_logits = PoolerEndLogits(config)
        self.answer_class = PoolerAnswerClass(config)
        self.init_weights()

    def forward(self, input_ids=None, token_type_ids=None, input_mask=None, attention_mask=None, mems=None,
                perm_mask=None, target_mapping=None, start_positions=None, end_positions=None, cls_index=None,
                is_impossible=None, p_mask=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, use_mems=None, inputs_embeds=None):
        outputs = self.transformer(input_ids, **_base_kwargs(token_type_ids, input_mask, attention_mask, mems,
                                                             perm_mask, target_mapping, head_mask, output_attentions,
                                                             output_hidden_states, use_mems, inputs_embeds))
        head = squad_head_forward(self.start_logits, self.end_logits, self.answer_class, self.start_n_top,
                                  self.end_n_top, outputs[0], start_positions, end_positions, cls_index,
                                  is_impossible, p_mask)
        rest = dict(mems=outputs.mems, hidden_states=outputs.hidden_states, attentions=outputs.attentions)
        if len(head) == 1:
            return XLNetForQuestionAnsweringOutput(loss=head[0], **rest)
        names = ("start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index", "cls_logits")
        return XLNetForQuestionAnsweringOutput(**dict(zip(names, head)), **rest)


# The remaining module-level names of 1.2.0's modeling module.
from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME  # noqa: E402,F401
XLNET_START_DOCSTRING = "XLNet: a model of pytorch-transformers 1.2.0, run by transformers_fast.\n"
XLNET_INPUTS_DOCSTRING = "Inputs: as the forward() of the same class in pytorch-transformers 1.2.0.\n"
