"""Transformer-XL: the classes of pytorch-transformers 1.2.0 with their call signatures and output lists.

Module and parameter names are those of the original checkpoints (`transformer.layers.<i>.dec_attn.qkv_net`,
`transformer.word_emb.emb_layers.<i>`, `crit.out_layers.<i>`, ...), so the published transfo-xl-wt103 weights
load unchanged. The modules below are the plain-torch reference path (training, labels with autograd,
head_mask, output_attentions, tracing, attn_type 1-3); inference of attn_type 0 (the checkpoint's) runs the fused
path of runtime/transfo_xl.py on the same weights: prepacked projections, ops.relative_attention, fused
residual + LayerNorm, the adaptive softmax's log-probabilities written once, and during `generate` the keys and
values of the memory kept beside it so that a step projects only the new token.

Outputs are 1.2.0's lists: TransfoXLModel -> [last_hidden_state, mems, (hidden_states), (attentions)],
TransfoXLLMHeadModel -> [log-probs, mems, ...] or, with labels, [per-token NLL [batch, len], None, mems, ...]
(mems is None when mem_len is 0); the slots also answer to names (out.mems, out.prediction_scores, out.losses).
"""
from __future__ import annotations

import math
from typing import Any, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from transformers_fast.generation import GenerationMixin
from transformers_fast.modeling_outputs import ModelOutput
from transformers_fast.modeling_utils import (CheckpointedLayers, PreTrainedModel, add_start_docstrings, assign_tf_map,
                                              check_ids, check_token_inputs, expand_head_mask, input_shape,
                                              memory_in_dtype, padded_vocab_size, tf_checkpoint_arrays)
from transformers_fast.models.transfo_xl.configuration_transfo_xl import (
    TRANSFO_XL_PRETRAINED_CONFIG_ARCHIVE_MAP, TRANSFO_XL_PRETRAINED_MODEL_ARCHIVE_MAP, TransfoXLConfig)
from transformers_fast.models.transfo_xl.modeling_transfo_xl_utilities import (LogUniformSampler,
                                                                                ProjectedAdaptiveLogSoftmax,
                                                                                sample_logits)
from transformers_fast.runtime import transfo_xl as fast_xl
from transformers_fast.ops import capturing_graph
from transformers_fast.ops.quantized_linear import float_like

LayerNorm = nn.LayerNorm  # 1.2.0's BertLayerNorm without apex (eps 1e-5)


class _ListOutput(ModelOutput):
    """1.2.0's output list as a tuple with named slots; the slots in `kept` stay (as None) when empty."""

    kept: tuple = ()

    @classmethod
    def _layout_of(cls, kwargs: dict) -> tuple:
        kept = cls._kept(kwargs)
        return tuple(name for name in cls.fields if kwargs.get(name) is not None or name in kept)

    @classmethod
    def _kept(cls, kwargs) -> tuple:
        return cls.kept


class TransfoXLModelOutput(_ListOutput):
    fields = ("last_hidden_state", "mems", "hidden_states", "attentions")
    kept = ("mems",)


class TransfoXLLMHeadModelOutput(_ListOutput):
    fields = ("losses", "prediction_scores", "mems", "hidden_states", "attentions")

    @classmethod
    def _kept(cls, kwargs) -> tuple:
        # with labels 1.2.0 returns [loss, None, mems, ...]; without, [scores, mems, ...]
        return ("mems", "prediction_scores") if kwargs.get("losses") is not None else ("mems",)


# ---- modules --------------------------------------------------------------------------------------------------


class PositionalEmbedding(nn.Module):
    def __init__(self, demb):
        super().__init__()
        self.demb = demb
        self.register_buffer("inv_freq", self.frequencies(demb))

    @staticmethod
    def frequencies(demb: int) -> torch.Tensor:
        return 1 / (10000 ** (torch.arange(0.0, demb, 2.0) / demb))

    def forward(self, pos_seq, bsz=None):
        sinusoid_inp = torch.outer(pos_seq, self.inv_freq)
        pos_emb = torch.cat([sinusoid_inp.sin(), sinusoid_inp.cos()], dim=-1)
        if bsz is not None:
            return pos_emb[:, None, :].expand(-1, bsz, -1)
        return pos_emb[:, None, :]


class PositionwiseFF(nn.Module):
    def __init__(self, d_model, d_inner, dropout, pre_lnorm=False):
        super().__init__()
        self.d_model = d_model
        self.d_inner = d_inner
        self.dropout = dropout
        self.CoreNet = nn.Sequential(nn.Linear(d_model, d_inner), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                     nn.Linear(d_inner, d_model), nn.Dropout(dropout))
        self.layer_norm = LayerNorm(d_model)
        self.pre_lnorm = pre_lnorm

    def forward(self, inp):
        if self.pre_lnorm:
            return self.CoreNet(self.layer_norm(inp)) + inp
        return self.layer_norm(inp + self.CoreNet(inp))


def _any_masked(attn_mask) -> bool:
    """1.2.0 skips an all-False mask; a captured graph cannot read it and applies it anyway (changing nothing)."""
    return attn_mask is not None and (capturing_graph() or bool(attn_mask.any()))


def _mask_scores(score, attn_mask, fill):
    if _any_masked(attn_mask):
        mask = attn_mask[None, :, :, None] if attn_mask.dim() == 2 else attn_mask[:, :, :, None]
        score = score.float().masked_fill(mask, fill).type_as(score)
    return score


class MultiHeadAttn(nn.Module):
    """Absolute-position attention (attn_type 2 and 3)."""

    def __init__(self, n_head, d_model, d_head, dropout, dropatt=0, pre_lnorm=False, r_r_bias=None, r_w_bias=None,
                 output_attentions=False):
        super().__init__()
        self.output_attentions = output_attentions
        self.n_head = n_head
        self.d_model = d_model
        self.d_head = d_head
        self.dropout = dropout
        self.q_net = nn.Linear(d_model, n_head * d_head, bias=False)
        self.kv_net = nn.Linear(d_model, 2 * n_head * d_head, bias=False)
        self.drop = nn.Dropout(dropout)
        self.dropatt = nn.Dropout(dropatt)
        self.o_net = nn.Linear(n_head * d_head, d_model, bias=False)
        self.layer_norm = LayerNorm(d_model)
        self.scale = 1 / (d_head ** 0.5)
        self.pre_lnorm = pre_lnorm
        if r_r_bias is None or r_w_bias is None:
            self.r_r_bias = nn.Parameter(torch.empty(self.n_head, self.d_head))
            self.r_w_bias = nn.Parameter(torch.empty(self.n_head, self.d_head))
        else:
            self.r_r_bias = r_r_bias
            self.r_w_bias = r_w_bias

    def forward(self, h, attn_mask=None, mems=None, head_mask=None, output_attentions=None):
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        c = torch.cat([mems, h], 0) if mems is not None else h
        if self.pre_lnorm:
            c = self.layer_norm(c)
        head_q = self.q_net(h)
        head_k, head_v = torch.chunk(self.kv_net(c), 2, -1)
        head_q = head_q.view(h.size(0), h.size(1), self.n_head, self.d_head)
        head_k = head_k.view(c.size(0), c.size(1), self.n_head, self.d_head)
        head_v = head_v.view(c.size(0), c.size(1), self.n_head, self.d_head)
        attn_score = torch.einsum("ibnd,jbnd->ijbn", head_q, head_k) * self.scale
        if _any_masked(attn_mask):
            mask = attn_mask[None, :, :, None] if attn_mask.dim() == 2 else attn_mask[:, :, :, None]
            attn_score = attn_score.masked_fill(mask, -float("inf"))
        attn_prob = self.dropatt(F.softmax(attn_score, dim=1))
        if head_mask is not None:
            attn_prob = attn_prob * head_mask
        attn_vec = torch.einsum("ijbn,jbnd->ibnd", attn_prob, head_v)
        attn_vec = attn_vec.contiguous().view(attn_vec.size(0), attn_vec.size(1), self.n_head * self.d_head)
        attn_out = self.drop(self.o_net(attn_vec))
        outputs = [h + attn_out] if self.pre_lnorm else [self.layer_norm(h + attn_out)]
        if output_attentions:
            outputs.append(attn_prob)
        return outputs


class RelMultiHeadAttn(nn.Module):
    def __init__(self, n_head, d_model, d_head, dropout, dropatt=0, tgt_len=None, ext_len=None, mem_len=None,
                 pre_lnorm=False, r_r_bias=None, r_w_bias=None, output_attentions=False):
        super().__init__()
        self.output_attentions = output_attentions
        self.n_head = n_head
        self.d_model = d_model
        self.d_head = d_head
        self.dropout = dropout
        self.qkv_net = nn.Linear(d_model, 3 * n_head * d_head, bias=False)
        self.drop = nn.Dropout(dropout)
        self.dropatt = nn.Dropout(dropatt)
        self.o_net = nn.Linear(n_head * d_head, d_model, bias=False)
        self.layer_norm = LayerNorm(d_model)
        self.scale = 1 / (d_head ** 0.5)
        self.pre_lnorm = pre_lnorm
        if r_r_bias is None or r_w_bias is None:  # biases are not shared
            self.r_r_bias = nn.Parameter(torch.empty(self.n_head, self.d_head))
            self.r_w_bias = nn.Parameter(torch.empty(self.n_head, self.d_head))
        else:
            self.r_r_bias = r_r_bias
            self.r_w_bias = r_w_bias

    def _parallelogram_mask(self, h, w, left=False):
        mask = torch.ones((h, w)).byte()
        m = min(h, w)
        mask[:m, :m] = torch.triu(mask[:m, :m])
        mask[-m:, -m:] = torch.tril(mask[-m:, -m:])
        return mask if left else mask.flip(0)

    def _shift(self, x, qlen, klen, mask, left=False):
        if qlen > 1:
            zero_pad = torch.zeros((x.size(0), qlen - 1, x.size(2), x.size(3)), device=x.device, dtype=x.dtype)
        else:
            zero_pad = torch.zeros(0, device=x.device, dtype=x.dtype)
        if left:
            mask = mask.flip(1)
            x_padded = torch.cat([zero_pad, x], dim=1).expand(qlen, -1, -1, -1)
        else:
            x_padded = torch.cat([x, zero_pad], dim=1).expand(qlen, -1, -1, -1)
        return x_padded.masked_select(mask[:, :, None, None]).view(qlen, klen, x.size(2), x.size(3))

    def _rel_shift(self, x, zero_triu=False):
        zero_pad = torch.zeros((x.size(0), 1) + x.size()[2:], device=x.device, dtype=x.dtype)
        x_padded = torch.cat([zero_pad, x], dim=1)
        x_padded = x_padded.view(*((x.size(1) + 1, x.size(0)) + x.size()[2:]))
        x = x_padded[1:].view_as(x)
        if zero_triu:
            ones = torch.ones((x.size(0), x.size(1)))
            x = x * torch.tril(ones, x.size(1) - x.size(0))[:, :, None, None]
        return x

    def forward(self, w, r, attn_mask=None, mems=None):
        raise NotImplementedError

    def _project(self, w, mems):
        qlen = w.size(0)
        cat = w if mems is None else torch.cat([mems, w], 0)
        w_heads = self.qkv_net(self.layer_norm(cat) if self.pre_lnorm else cat)
        w_head_q, w_head_k, w_head_v = torch.chunk(w_heads, 3, dim=-1)
        return w_head_q[-qlen:], w_head_k, w_head_v

    def _attend(self, w, attn_score, w_head_v, attn_mask, head_mask, output_attentions, fill):
        attn_score = _mask_scores(attn_score, attn_mask, fill)
        attn_prob = self.dropatt(F.softmax(attn_score, dim=1))
        if head_mask is not None:
            attn_prob = attn_prob * head_mask
        attn_vec = torch.einsum("ijbn,jbnd->ibnd", attn_prob, w_head_v)
        attn_vec = attn_vec.contiguous().view(attn_vec.size(0), attn_vec.size(1), self.n_head * self.d_head)
        attn_out = self.drop(self.o_net(attn_vec))
        outputs = [w + attn_out] if self.pre_lnorm else [self.layer_norm(w + attn_out)]
        if self.output_attentions if output_attentions is None else output_attentions:
            outputs.append(attn_prob)
        return outputs


class RelPartialLearnableMultiHeadAttn(RelMultiHeadAttn):
    """Transformer-XL's attention (attn_type 0): content and position terms with the learned biases u, v."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.r_net = nn.Linear(self.d_model, self.n_head * self.d_head, bias=False)

    def forward(self, w, r, attn_mask=None, mems=None, head_mask=None, output_attentions=None):
        qlen, rlen, bsz = w.size(0), r.size(0), w.size(1)
        w_head_q, w_head_k, w_head_v = self._project(w, mems)
        r_head_k = self.r_net(r)
        klen = w_head_k.size(0)
        w_head_q = w_head_q.view(qlen, bsz, self.n_head, self.d_head)
        w_head_k = w_head_k.view(klen, bsz, self.n_head, self.d_head)
        w_head_v = w_head_v.view(klen, bsz, self.n_head, self.d_head)
        r_head_k = r_head_k.view(rlen, self.n_head, self.d_head)
        ac = torch.einsum("ibnd,jbnd->ijbn", w_head_q + self.r_w_bias, w_head_k)  # qlen x klen x bsz x n_head
        bd = self._rel_shift(torch.einsum("ibnd,jnd->ijbn", w_head_q + self.r_r_bias, r_head_k))
        attn_score = (ac + bd) * self.scale
        return self._attend(w, attn_score, w_head_v, attn_mask, head_mask, output_attentions, -1e30)


class RelLearnableMultiHeadAttn(RelMultiHeadAttn):
    """Shaw et al.'s learnable relative embeddings (attn_type 1)."""

    def forward(self, w, r_emb, r_w_bias, r_bias, attn_mask=None, mems=None, head_mask=None, output_attentions=None):
        qlen, bsz = w.size(0), w.size(1)
        w_head_q, w_head_k, w_head_v = self._project(w, mems)
        klen = w_head_k.size(0)
        w_head_q = w_head_q.view(qlen, bsz, self.n_head, self.d_head)
        w_head_k = w_head_k.view(klen, bsz, self.n_head, self.d_head)
        w_head_v = w_head_v.view(klen, bsz, self.n_head, self.d_head)
        if klen > r_emb.size(0):
            r_emb = torch.cat([r_emb[0:1].expand(klen - r_emb.size(0), -1, -1), r_emb], 0)
            r_bias = torch.cat([r_bias[0:1].expand(klen - r_bias.size(0), -1), r_bias], 0)
        else:
            r_emb = r_emb[-klen:]
            r_bias = r_bias[-klen:]
        ac = torch.einsum("ibnd,jbnd->ijbn", w_head_q + r_w_bias[None], w_head_k)
        b_ = torch.einsum("ibnd,jnd->ijbn", w_head_q, r_emb)
        bd = self._rel_shift(b_ + r_bias[None, :, None])
        attn_score = (ac + bd) * self.scale
        return self._attend(w, attn_score, w_head_v, attn_mask, head_mask, output_attentions, -float("inf"))


class DecoderLayer(nn.Module):
    def __init__(self, n_head, d_model, d_head, d_inner, dropout, **kwargs):
        super().__init__()
        self.dec_attn = MultiHeadAttn(n_head, d_model, d_head, dropout, **kwargs)
        self.pos_ff = PositionwiseFF(d_model, d_inner, dropout, pre_lnorm=kwargs.get("pre_lnorm"))

    def forward(self, dec_inp, dec_attn_mask=None, mems=None, head_mask=None, output_attentions=None):
        attn_outputs = self.dec_attn(dec_inp, attn_mask=dec_attn_mask, mems=mems, head_mask=head_mask,
                                     output_attentions=output_attentions)
        return [self.pos_ff(attn_outputs[0])] + attn_outputs[1:]


class RelLearnableDecoderLayer(nn.Module):
    def __init__(self, n_head, d_model, d_head, d_inner, dropout, **kwargs):
        super().__init__()
        self.dec_attn = RelLearnableMultiHeadAttn(n_head, d_model, d_head, dropout, **kwargs)
        self.pos_ff = PositionwiseFF(d_model, d_inner, dropout, pre_lnorm=kwargs.get("pre_lnorm"))

    def forward(self, dec_inp, r_emb, r_w_bias, r_bias, dec_attn_mask=None, mems=None, head_mask=None,
                output_attentions=None):
        attn_outputs = self.dec_attn(dec_inp, r_emb, r_w_bias, r_bias, attn_mask=dec_attn_mask, mems=mems,
                                     head_mask=head_mask, output_attentions=output_attentions)
        return [self.pos_ff(attn_outputs[0])] + attn_outputs[1:]


class RelPartialLearnableDecoderLayer(nn.Module):
    def __init__(self, n_head, d_model, d_head, d_inner, dropout, **kwargs):
        super().__init__()
        self.dec_attn = RelPartialLearnableMultiHeadAttn(n_head, d_model, d_head, dropout, **kwargs)
        self.pos_ff = PositionwiseFF(d_model, d_inner, dropout, pre_lnorm=kwargs.get("pre_lnorm"))

    def forward(self, dec_inp, r, dec_attn_mask=None, mems=None, head_mask=None, output_attentions=None):
        attn_outputs = self.dec_attn(dec_inp, r, attn_mask=dec_attn_mask, mems=mems, head_mask=head_mask,
                                     output_attentions=output_attentions)
        return [self.pos_ff(attn_outputs[0])] + attn_outputs[1:]


class AdaptiveEmbedding(nn.Module):
    """Token embeddings whose size shrinks by div_val per cluster, each projected to d_proj, times sqrt(d_proj)."""

    def __init__(self, n_token, d_embed, d_proj, cutoffs, div_val=1, sample_softmax=False):
        super().__init__()
        self.n_token = n_token
        self.d_embed = d_embed
        self.cutoffs = list(cutoffs) + [n_token]
        self.div_val = div_val
        self.d_proj = d_proj
        self.emb_scale = d_proj ** 0.5
        self.cutoff_ends = [0] + self.cutoffs
        self.emb_layers = nn.ModuleList()
        self.emb_projs = nn.ParameterList()
        if div_val == 1:
            self.emb_layers.append(nn.Embedding(n_token, d_embed, sparse=sample_softmax > 0))
            if d_proj != d_embed:
                self.emb_projs.append(nn.Parameter(torch.empty(d_proj, d_embed)))
        else:
            for i in range(len(self.cutoffs)):
                l_idx, r_idx = self.cutoff_ends[i], self.cutoff_ends[i + 1]
                d_emb_i = d_embed // (div_val ** i)
                self.emb_layers.append(nn.Embedding(r_idx - l_idx, d_emb_i))
                self.emb_projs.append(nn.Parameter(torch.empty(d_proj, d_emb_i)))

    @property
    def num_embeddings(self) -> int:
        return self.n_token

    def forward(self, inp):
        if self.div_val == 1:
            embed = self.emb_layers[0](inp)
            if self.d_proj != self.d_embed:
                embed = F.linear(embed, self.emb_projs[0])
        elif capturing_graph():
            # without data-dependent shapes (nonzero), so that a trace holds for any ids: every cluster embeds
            # every token (ids clamped into its range) and only the owner's row is kept (the others add zeros)
            inp_flat = inp.reshape(-1)
            embed = None
            for i in range(len(self.cutoffs)):
                l_idx, r_idx = self.cutoff_ends[i], self.cutoff_ends[i + 1]
                inside = ((inp_flat >= l_idx) & (inp_flat < r_idx))[:, None]
                emb_i = F.linear(self.emb_layers[i]((inp_flat - l_idx).clamp(0, r_idx - l_idx - 1)), self.emb_projs[i])
                emb_i = torch.where(inside, emb_i, torch.zeros_like(emb_i))
                embed = emb_i if embed is None else embed + emb_i
            embed = embed.view(inp.size() + (self.d_proj,))
        else:
            param = next(self.parameters())
            inp_flat = inp.reshape(-1)
            emb_flat = torch.zeros([inp_flat.size(0), self.d_proj], dtype=param.dtype, device=param.device)
            for i in range(len(self.cutoffs)):
                l_idx, r_idx = self.cutoff_ends[i], self.cutoff_ends[i + 1]
                indices_i = ((inp_flat >= l_idx) & (inp_flat < r_idx)).nonzero().reshape(-1)
                if indices_i.numel() == 0:
                    continue
                emb_i = self.emb_layers[i](inp_flat.index_select(0, indices_i) - l_idx)
                # (.to: under torch.autocast F.linear gives its dtype; 1.2.0 fails there)
                emb_flat.index_copy_(0, indices_i, F.linear(emb_i, self.emb_projs[i]).to(emb_flat.dtype))
            embed = emb_flat.view(inp.size() + (self.d_proj,))
        return embed.mul_(self.emb_scale)


# ---- models ---------------------------------------------------------------------------------------------------


class TransfoXLPreTrainedModel(PreTrainedModel):
    """Weight initialisation (1.2.0's, by module class name) and loading shared by the Transformer-XL classes."""

    config_class = TransfoXLConfig
    pretrained_model_archive_map = TRANSFO_XL_PRETRAINED_MODEL_ARCHIVE_MAP
    base_model_prefix = "transformer"

    def _init_weight(self, weight):
        if self.config.init == "uniform":
            nn.init.uniform_(weight, -self.config.init_range, self.config.init_range)
        elif self.config.init == "normal":
            nn.init.normal_(weight, 0.0, self.config.init_std)

    def _init_bias(self, bias):
        nn.init.constant_(bias, 0.0)

    def _init_weights(self, m):
        classname = m.__class__.__name__
        if classname.find("Linear") != -1:
            if getattr(m, "weight", None) is not None:
                self._init_weight(m.weight)
            if getattr(m, "bias", None) is not None:
                self._init_bias(m.bias)
        elif classname.find("AdaptiveEmbedding") != -1:
            for proj in getattr(m, "emb_projs", ()):
                if proj is not None:
                    nn.init.normal_(proj, 0.0, self.config.proj_init_std)
        elif classname.find("Embedding") != -1:
            if classname == "PositionalEmbedding":  # a buffer 1.2.0 saves; computed when a checkpoint lacks it
                with torch.no_grad():
                    m.inv_freq.copy_(PositionalEmbedding.frequencies(m.demb).to(m.inv_freq))
            elif hasattr(m, "weight"):
                self._init_weight(m.weight)
        elif classname.find("ProjectedAdaptiveLogSoftmax") != -1:
            if getattr(m, "cluster_weight", None) is not None:
                self._init_weight(m.cluster_weight)
            if getattr(m, "cluster_bias", None) is not None:
                self._init_bias(m.cluster_bias)
            for proj in getattr(m, "out_projs", ()):
                if proj is not None:
                    nn.init.normal_(proj, 0.0, self.config.proj_init_std)
        elif classname.find("LayerNorm") != -1:
            if hasattr(m, "weight"):
                nn.init.normal_(m.weight, 1.0, self.config.init_std)
            if getattr(m, "bias", None) is not None:
                self._init_bias(m.bias)
        else:
            if hasattr(m, "r_emb"):
                self._init_weight(m.r_emb)
            if hasattr(m, "r_w_bias"):
                self._init_weight(m.r_w_bias)
            if hasattr(m, "r_r_bias"):
                self._init_weight(m.r_r_bias)
            if hasattr(m, "r_bias"):
                self._init_bias(m.r_bias)

    def set_num_special_tokens(self, num_special_tokens):
        pass


def _check_mems(mems, n_layer: int, bsz: int, d_model: int, dtype: torch.dtype, device: torch.device):
    if not isinstance(mems, (list, tuple)):
        raise TypeError(f"mems must be a list of {n_layer} tensors [mem_len, batch, d_model] (the mems output of a "
                        f"previous call), got {type(mems).__name__}")
    if len(mems) != n_layer:
        raise ValueError(f"mems has {len(mems)} entries, the model has {n_layer} layers (one memory per layer)")
    mlen = None
    for i, m in enumerate(mems):
        if not isinstance(m, torch.Tensor):
            raise TypeError(f"mems[{i}] must be a torch.Tensor, got {type(m).__name__}")
        if m.dim() != 3 or m.shape[1] != bsz or m.shape[2] != d_model:
            raise ValueError(f"mems[{i}] must have shape [mem_len, batch={bsz}, d_model={d_model}], "
                             f"got {tuple(m.shape)}")
        if mlen is None:
            mlen = m.shape[0]
        elif m.shape[0] != mlen:
            raise ValueError(f"mems[{i}] holds {m.shape[0]} positions but mems[0] holds {mlen}: every layer's "
                             f"memory must have the same length")
        if m.device != device:
            raise ValueError(f"mems[{i}] is on {m.device}, the model's weights are on {device}")
    return [memory_in_dtype(f"mems[{i}]", m, dtype) for i, m in enumerate(mems)]


class TransfoXLModel(CheckpointedLayers, TransfoXLPreTrainedModel):
    """Outputs: last_hidden_state [batch, len, d_model], mems (per layer [mem_len, batch, d_model], or None when
    mem_len is 0), (hidden_states), (attentions)."""

    def __init__(self, config: TransfoXLConfig):
        super().__init__(config)
        self.output_attentions = config.output_attentions
        self.output_hidden_states = config.output_hidden_states
        self.n_token = config.n_token
        self.d_embed = config.d_embed
        self.d_model = config.d_model
        self.n_head = config.n_head
        self.d_head = config.d_head
        self.word_emb = AdaptiveEmbedding(config.n_token, config.d_embed, config.d_model, config.cutoffs,
                                          div_val=config.div_val)
        self.drop = nn.Dropout(config.dropout)
        self.n_layer = config.n_layer
        self.tgt_len = config.tgt_len
        self.mem_len = config.mem_len
        self.ext_len = config.ext_len
        self.max_klen = config.tgt_len + config.ext_len + config.mem_len
        self.attn_type = config.attn_type
        if not config.untie_r:
            self.r_w_bias = nn.Parameter(torch.empty(self.n_head, self.d_head))
            self.r_r_bias = nn.Parameter(torch.empty(self.n_head, self.d_head))
        shared = dict(r_w_bias=None if config.untie_r else self.r_w_bias,
                      r_r_bias=None if config.untie_r else self.r_r_bias, output_attentions=self.output_attentions)
        self.layers = nn.ModuleList()
        for _ in range(config.n_layer):
            args = (config.n_head, config.d_model, config.d_head, config.d_inner, config.dropout)
            if config.attn_type == 0:
                layer = RelPartialLearnableDecoderLayer(*args, tgt_len=config.tgt_len, ext_len=config.ext_len,
                                                        mem_len=config.mem_len, dropatt=config.dropatt,
                                                        pre_lnorm=config.pre_lnorm, **shared)
            elif config.attn_type == 1:
                layer = RelLearnableDecoderLayer(*args, tgt_len=config.tgt_len, ext_len=config.ext_len,
                                                 mem_len=config.mem_len, dropatt=config.dropatt,
                                                 pre_lnorm=config.pre_lnorm, **shared)
            else:
                layer = DecoderLayer(*args, dropatt=config.dropatt, pre_lnorm=config.pre_lnorm, **shared)
            self.layers.append(layer)
        self.same_length = config.same_length
        self.clamp_len = config.clamp_len
        if self.attn_type in (0, 2):
            self.pos_emb = PositionalEmbedding(self.d_model)
        if self.attn_type in (1, 3):
            self.r_emb = nn.Parameter(torch.empty(self.n_layer, self.max_klen, self.n_head, self.d_head))
        if self.attn_type == 1:
            self.r_bias = nn.Parameter(torch.empty(self.n_layer, self.max_klen, self.n_head))
        self.fast = fast_xl.TransfoXLFastPath(self)
        self.init_weights()

    def get_input_embeddings(self):
        return self.word_emb

    def set_input_embeddings(self, new_embeddings):
        self.word_emb = new_embeddings
        self.invalidate_fast_path()

    def _resize_token_embeddings(self, new_num_tokens):
        return self.word_emb

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None):
        new_num_tokens = padded_vocab_size(new_num_tokens, self.n_token, pad_to_multiple_of)
        if new_num_tokens is None or new_num_tokens == self.n_token:
            return self.word_emb
        raise NotImplementedError("resize_token_embeddings is not supported for Transformer-XL's adaptive "
                                  "embeddings (1.2.0 does not resize them either)")

    def backward_compatible(self):
        self.sample_softmax = -1

    def reset_length(self, tgt_len, ext_len, mem_len):
        self.tgt_len = tgt_len
        self.mem_len = mem_len
        self.ext_len = ext_len

    def _prune_heads(self, heads):
        pass  # 1.2.0: head pruning is not implemented for Transformer-XL

    def init_mems(self, data):
        """Zero memories [mem_len, batch, d_model] per layer for data [len, batch], or None when mem_len is 0."""
        if self.mem_len > 0:
            param = next(self.parameters())
            return [torch.zeros(self.mem_len, data.size(1), self.config.d_model, dtype=param.dtype,
                                device=param.device) for _ in range(self.n_layer)]
        return None

    def _update_mems(self, hids, mems, qlen, mlen):
        # 1.2.0 calls this as _update_mems(hids, mems, mlen, qlen): the two lengths arrive swapped, which only
        # matters with ext_len > 0. Kept as is, so that memories equal 1.2.0's.
        if mems is None:
            return None
        if len(hids) != len(mems):
            raise ValueError("len(hids) != len(mems)")
        with torch.no_grad():
            end_idx = mlen + max(0, qlen - 0 - self.ext_len)
            beg_idx = max(0, end_idx - self.mem_len)
            return [torch.cat([mems[i], hids[i]], dim=0)[beg_idx:end_idx].detach() for i in range(len(hids))]

    def attention_mask(self, qlen: int, mlen: int, like: torch.Tensor) -> torch.Tensor:
        """[qlen, klen, 1] bool, True = masked: causal over memory + segment, and with same_length every query
        sees the same number of keys."""
        klen = mlen + qlen
        all_ones = like.new_ones(qlen, klen)
        if self.same_length:
            mask_len = klen - self.mem_len
            mask_shift_len = qlen - mask_len if mask_len > 0 else qlen
            return (torch.triu(all_ones, 1 + mlen) + torch.tril(all_ones, -mask_shift_len)).bool()[:, :, None]
        return torch.triu(all_ones, diagonal=1 + mlen).bool()[:, :, None]

    def position_sequence(self, klen: int, like: torch.Tensor) -> torch.Tensor:
        pos_seq = torch.arange(klen - 1, -1, -1.0, device=like.device, dtype=like.dtype)
        if self.clamp_len > 0:
            pos_seq.clamp_(max=self.clamp_len)
        return pos_seq

    def _check_inputs(self, input_ids, mems, inputs_embeds=None):
        """Raises on bad input; returns (mems in the model's dtype or None, inputs_embeds in the model's dtype or
        None when ids are given)."""
        param = float_like(self.word_emb.emb_layers[0])
        inputs_embeds, name, shape = check_token_inputs(input_ids, inputs_embeds, self.n_token, "config.n_token",
                                                        param, "d_model", self.d_model)
        if shape[1] == 0:  # (a batch of no sequence is empty outputs, as in 1.2.0)
            raise ValueError(f"{name} is empty (shape {tuple(shape)})")
        if mems is not None:
            mems = _check_mems(mems, self.n_layer, shape[0], self.d_model, param.dtype, param.device)
        return mems, inputs_embeds

    def forward(self, input_ids=None, mems=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None):
        """inputs_embeds [batch, seq, d_model]: in place of word_emb(input_ids) (its scaled output), as transformers
        4 took them."""
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.output_hidden_states if output_hidden_states is None else output_hidden_states
        mems, inputs_embeds = self._check_inputs(input_ids, mems, inputs_embeds)
        # the original code uses [len, batch]: 1.2.0 transposes here
        if inputs_embeds is None:
            input_ids = input_ids.transpose(0, 1).contiguous()
        else:  # a copy: attn_type 3 adds to the embeddings in place
            inputs_embeds = inputs_embeds.transpose(0, 1).clone(memory_format=torch.contiguous_format)
        zero_mems = mems is None
        if mems is None:
            mems = self.init_mems(input_ids if inputs_embeds is None else inputs_embeds)
        if self.fast.usable(head_mask, output_attentions, inputs_embeds, mems):
            core_out, new_mems, hids = self.fast.forward(input_ids, mems, output_hidden_states, zero_mems,
                                                         words=inputs_embeds)
        else:
            word_emb = self.word_emb(input_ids) if inputs_embeds is None else inputs_embeds
            core_out, new_mems, hids, attentions = self._forward(word_emb, mems, head_mask, output_attentions)
        tracing = torch.jit.is_tracing()
        listed = tuple if tracing else list
        hidden_states = None
        if output_hidden_states:
            hidden_states = listed(t.transpose(0, 1).contiguous() for t in hids + [core_out])
        attn = None
        if output_attentions:
            attn = listed(t.permute(2, 3, 0, 1).contiguous() for t in attentions)
        return TransfoXLModelOutput(last_hidden_state=core_out.transpose(0, 1).contiguous(),
                                    mems=None if new_mems is None else listed(new_mems),
                                    hidden_states=hidden_states, attentions=attn)

    def _forward(self, word_emb, mems, head_mask, output_attentions):
        """1.2.0's computation in plain torch on the word embeddings [len, batch, d]: (core_out [len, batch, d],
        new mems, hids, attentions)."""
        qlen, bsz = word_emb.shape[:2]
        per_layer = isinstance(head_mask, torch.Tensor) and head_mask.dim() > 2  # already in 1.2.0's layout
        head_mask = expand_head_mask(head_mask, self.n_layer, self.n_head, next(self.parameters()).dtype)
        if isinstance(head_mask, torch.Tensor) and not per_layer:  # [L, 1, 1, 1, H]: expand_head_mask's [L, 1, H, 1, 1]
            head_mask = head_mask.reshape(self.n_layer, 1, 1, 1, self.n_head)
        mlen = mems[0].size(0) if mems is not None else 0
        klen = mlen + qlen
        dec_attn_mask = self.attention_mask(qlen, mlen, word_emb)
        hids, attentions = [], []
        if self.attn_type == 0:
            core_out = self.drop(word_emb)  # before pos_emb's dropout: 1.2.0's order of random draws
            pos_emb = self.drop(self.pos_emb(self.position_sequence(klen, word_emb)))
            for i, layer in enumerate(self.layers):
                hids.append(core_out)
                layer_outputs = self.run_layer(layer, core_out, pos_emb, dec_attn_mask=dec_attn_mask,
                                               mems=None if mems is None else mems[i], head_mask=head_mask[i],
                                               output_attentions=output_attentions)
                core_out = layer_outputs[0]
                if output_attentions:
                    attentions.append(layer_outputs[1])
        elif self.attn_type == 1:
            core_out = self.drop(word_emb)
            for i, layer in enumerate(self.layers):
                hids.append(core_out)
                if self.clamp_len > 0:
                    r_emb, r_bias = self.r_emb[i][-self.clamp_len:], self.r_bias[i][-self.clamp_len:]
                else:
                    r_emb, r_bias = self.r_emb[i], self.r_bias[i]
                layer_outputs = self.run_layer(layer, core_out, r_emb, self.r_w_bias[i], r_bias,
                                               dec_attn_mask=dec_attn_mask, mems=None if mems is None else mems[i],
                                               head_mask=head_mask[i], output_attentions=output_attentions)
                core_out = layer_outputs[0]
                if output_attentions:
                    attentions.append(layer_outputs[1])
        elif self.attn_type == 2:
            pos_emb = self.pos_emb(self.position_sequence(klen, word_emb))
            core_out = self.drop(word_emb + pos_emb[-qlen:])
            for i, layer in enumerate(self.layers):
                hids.append(core_out)
                mems_i = None if mems is None else mems[i]
                if mems_i is not None and i == 0:
                    mems_i += pos_emb[:mlen]  # 1.2.0 adds in place
                layer_outputs = self.run_layer(layer, core_out, dec_attn_mask=dec_attn_mask, mems=mems_i,
                                               head_mask=head_mask[i], output_attentions=output_attentions)
                core_out = layer_outputs[0]
                if output_attentions:
                    attentions.append(layer_outputs[1])
        else:
            core_out = self.drop(word_emb)
            for i, layer in enumerate(self.layers):
                hids.append(core_out)
                mems_i = None if mems is None else mems[i]
                if mems_i is not None and mlen > 0:
                    cur_emb = self.r_emb[i][:-qlen]
                    cur_size = cur_emb.size(0)
                    if cur_size < mlen:
                        cur_emb = torch.cat([cur_emb[0:1].expand(mlen - cur_size, -1, -1), cur_emb], 0)
                    else:
                        cur_emb = cur_emb[-mlen:]
                    mems_i += cur_emb.view(mlen, 1, -1)
                core_out += self.r_emb[i][-qlen:].view(qlen, 1, -1)
                layer_outputs = self.run_layer(layer, core_out, dec_attn_mask=dec_attn_mask, mems=mems_i,
                                               head_mask=head_mask[i], output_attentions=output_attentions)
                core_out = layer_outputs[0]
                if output_attentions:
                    attentions.append(layer_outputs[1])
        core_out = self.drop(core_out)
        new_mems = self._update_mems(hids, mems, mlen, qlen)
        return core_out, new_mems, hids, attentions


class TransfoXLLMHeadModel(GenerationMixin, TransfoXLPreTrainedModel):
    """Outputs: without labels [log-probs [batch, len, n_token], mems, (hidden_states), (attentions)]; with labels
    [per-token negative log-likelihood [batch, len], None, mems, ...]. As in 1.2.0 the labels are not shifted
    (label t is scored by the output at t) and the losses come grouped by cluster (head cluster first), not in
    position order; their sum and mean are the usual ones."""

    def __init__(self, config: TransfoXLConfig):
        super().__init__(config)
        self.transformer = TransfoXLModel(config)
        self.sample_softmax = config.sample_softmax
        if config.sample_softmax > 0:
            self.out_layer = nn.Linear(config.d_model, config.n_token)
            self.sampler = LogUniformSampler(config.n_token, config.sample_softmax)
        else:
            self.crit = ProjectedAdaptiveLogSoftmax(config.n_token, config.d_embed, config.d_model, config.cutoffs,
                                                    div_val=config.div_val)
        self.fast = fast_xl.TransfoXLFastPath(self)
        self.init_weights()
        self.tie_weights()

    def get_output_embeddings(self):
        return None  # adaptive: tied cluster by cluster in tie_weights

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None):
        # the adaptive embeddings have no single matrix: the base model says what it supports
        return self.transformer.resize_token_embeddings(new_num_tokens, pad_to_multiple_of)

    def tie_weights(self):
        """Ties the softmax's cluster weights (and, with tie_projs, its projections) to the adaptive input's."""
        config = self.config
        if self.sample_softmax > 0:
            if config.tie_weight:
                self._tie_or_clone_weights(self.out_layer, self.transformer.word_emb.emb_layers[0])
            return
        if config.tie_weight:
            for i in range(len(self.crit.out_layers)):
                self._tie_or_clone_weights(self.crit.out_layers[i], self.transformer.word_emb.emb_layers[i])
        if config.tie_projs:
            emb_projs = self.transformer.word_emb.emb_projs
            for i, tie_proj in enumerate(config.tie_projs):
                if tie_proj and config.div_val == 1 and config.d_model != config.d_embed:
                    source = emb_projs[0]
                elif tie_proj and config.div_val != 1:
                    source = emb_projs[i]
                else:
                    continue
                self.crit.out_projs[i] = nn.Parameter(source.clone()) if config.torchscript else source
        self.invalidate_fast_path()

    def reset_length(self, tgt_len, ext_len, mem_len):
        self.transformer.reset_length(tgt_len, ext_len, mem_len)

    def init_mems(self, data):
        return self.transformer.init_mems(data)

    def forward(self, input_ids=None, labels=None, mems=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None):
        transformer = self.transformer
        inputs_embeds = transformer._check_inputs(input_ids, mems, inputs_embeds)[1]
        shape = input_shape(input_ids, inputs_embeds)[1]
        if labels is not None:
            # 1.2.0 scores -1 (its ignored label elsewhere) 0, as any label outside the clusters; -100: transformers'
            check_ids("labels", labels, self.config.n_token,
                      "the vocabulary size (config.n_token), or -100 or -1 (ignored)", shape=shape, ignored=(-100, -1))
        bsz, tgt_len = shape
        outputs = transformer(input_ids, mems=mems, head_mask=head_mask, output_attentions=output_attentions,
                              output_hidden_states=output_hidden_states, inputs_embeds=inputs_embeds)
        pred_hid = outputs[0][:, -tgt_len:]
        rest = dict(mems=outputs.mems, hidden_states=outputs.hidden_states, attentions=outputs.attentions)
        if self.sample_softmax > 0:
            if not self.training:
                raise NotImplementedError("sample_softmax > 0 has no evaluation path (1.2.0 neither): set "
                                          "config.sample_softmax = -1 for the adaptive softmax")
            logit = sample_logits(transformer.word_emb.emb_layers[0], self.out_layer.bias, labels, pred_hid,
                                  self.sampler)
            if labels is not None:
                raise NotImplementedError("labels with sample_softmax > 0 are not implemented (1.2.0 neither)")
            return TransfoXLLMHeadModelOutput(prediction_scores=-F.log_softmax(logit, -1)[:, :, 0], **rest)
        hidden = pred_hid.reshape(-1, pred_hid.size(-1))
        if labels is None:
            if self.fast.softmax_usable(hidden):
                scores = self.fast.log_probs(hidden)
            else:
                scores = self.crit(hidden)
            return TransfoXLLMHeadModelOutput(prediction_scores=scores.view(bsz, tgt_len, scores.shape[-1]), **rest)
        losses = self.crit(hidden, labels).view(bsz, tgt_len)
        return TransfoXLLMHeadModelOutput(losses=losses, **rest)

    def prepare_inputs_for_generation(self, input_ids, **kwargs):
        inputs = {"input_ids": input_ids[:, -1:] if "mems" in kwargs and kwargs["mems"] else input_ids}
        if kwargs.get("mems"):
            inputs["mems"] = kwargs["mems"]
        return inputs


# The remaining module-level names of 1.2.0's modeling module.
from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME  # noqa: E402,F401
TRANSFO_XL_START_DOCSTRING = "Transformer-XL: a model of pytorch-transformers 1.2.0, run by transformers_fast.\n"
TRANSFO_XL_INPUTS_DOCSTRING = "Inputs: as the forward() of the same class in pytorch-transformers 1.2.0.\n"


def build_tf_to_pytorch_map(model, config):
    """The TensorFlow names of the Transformer-XL release -> the parameter each fills (per-layer lists for the
    relative-position biases, which TensorFlow stacks by layer), as 1.2.0."""
    tf_to_pt_map = {}
    if hasattr(model, "transformer"):  # an LM head model: the adaptive softmax too
        crit = model.crit
        tf_to_pt_map["transformer/adaptive_softmax/cutoff_0/cluster_W"] = crit.cluster_weight
        tf_to_pt_map["transformer/adaptive_softmax/cutoff_0/cluster_b"] = crit.cluster_bias
        for i, (out_layer, out_proj, tie_proj) in enumerate(zip(crit.out_layers, crit.out_projs, config.tie_projs)):
            prefix = f"transformer/adaptive_softmax/cutoff_{i}/"
            if not config.tie_weight:
                raise NotImplementedError("the TensorFlow release ties the softmax to the embeddings (tie_weight)")
            tf_to_pt_map[prefix + "b"] = out_layer.bias
            if not tie_proj:
                tf_to_pt_map[prefix + "proj"] = out_proj
        model = model.transformer
    for i, (embedding, projection) in enumerate(zip(model.word_emb.emb_layers, model.word_emb.emb_projs)):
        prefix = f"transformer/adaptive_embed/cutoff_{i}/"
        tf_to_pt_map[prefix + "lookup_table"] = embedding.weight
        tf_to_pt_map[prefix + "proj_W"] = projection
    for i, block in enumerate(model.layers):
        attn, ff, prefix = block.dec_attn, block.pos_ff, f"transformer/layer_{i}/"
        tf_to_pt_map.update({
            prefix + "rel_attn/LayerNorm/gamma": attn.layer_norm.weight,
            prefix + "rel_attn/LayerNorm/beta": attn.layer_norm.bias,
            prefix + "rel_attn/o/kernel": attn.o_net.weight, prefix + "rel_attn/qkv/kernel": attn.qkv_net.weight,
            prefix + "rel_attn/r/kernel": attn.r_net.weight,
            prefix + "ff/LayerNorm/gamma": ff.layer_norm.weight, prefix + "ff/LayerNorm/beta": ff.layer_norm.bias,
            prefix + "ff/layer_1/kernel": ff.CoreNet[0].weight, prefix + "ff/layer_1/bias": ff.CoreNet[0].bias,
            prefix + "ff/layer_2/kernel": ff.CoreNet[3].weight, prefix + "ff/layer_2/bias": ff.CoreNet[3].bias,
        })
    for name in ("r_r_bias", "r_w_bias"):
        tf_to_pt_map[f"transformer/{name}"] = ([getattr(block.dec_attn, name) for block in model.layers]
                                               if config.untie_r else [getattr(model, name)])
    return tf_to_pt_map


def load_tf_weights_in_transfo_xl(model, config, tf_path):
    """Reads the TensorFlow Transformer-XL release into model; needs TensorFlow. Every mapped variable must be
    in the checkpoint, as in 1.2.0."""
    tf_weights = dict(tf_checkpoint_arrays(tf_path))
    assign_tf_map(build_tf_to_pytorch_map(model, config), tf_weights, lambda name: "kernel" in name or "proj" in name,
                  required=True)
    return model


TransfoXLPreTrainedModel.load_tf_weights = staticmethod(load_tf_weights_in_transfo_xl)
