"""XLM: the classes of pytorch-transformers 1.2.0 (names, signatures, output tuples).

Inference in eval mode runs the padding-free encoder fast path shared with BERT (fused QKV, fused attention,
bias+GELU, add+LayerNorm; causal attention within each sequence for the CLM checkpoints). As in the reference,
every padded position of the outputs is zero (XLM multiplies the hidden states by the padding mask after the
embeddings and after each layer), so the fast path's outputs equal the reference's everywhere, except where a
row has no real token at all: 1.2.0 gives NaN there (its -inf score fill), this library zeros on both paths (scores
masked with the dtype's minimum, as transformers).

Differences from pytorch-transformers 1.2.0 (documented, on purpose):
- XLMWithLMHeadModel's output tuple holds 1.2.0's scores layout, [batch * seq, n_words]; read by name (`.logits`)
  they are transformers' [batch, seq, n_words]; labels may be [batch, seq] or [batch * seq]; -100 is ignored (1.2.0's
  reduction='elementwise_mean' no longer exists in torch).
- A causal model with an attention_mask works (1.2.0 raised NameError there); as in the reference the causal
  mask alone decides which keys a query sees, and padded positions are zeroed afterwards.
- langs with a model that has no language embeddings (n_langs == 1 or use_lang_emb=False) are ignored, as in
  transformers (1.2.0 raised AttributeError); ids out of range raise ValueError with the offending value.
- sinusoidal_embeddings=True gives the fixed sinusoidal table (1.2.0 overwrote it with random values in
  init_weights, the random draws are kept so that seeded runs draw the same numbers).
"""
from __future__ import annotations

import functools
import itertools
import math

import torch
from torch import nn
from torch.nn import functional as F

from transformers_fast import ops
from transformers_fast.generation import as_transformers_cache
from transformers_fast.generation_placeholder import PlaceholderGenerationMixin
from transformers_fast.modeling_outputs import output_class
from transformers_fast.modeling_utils import (CheckpointedLayers, PreTrainedModel, SequenceSummary, SQuADHead,
                                              check_attention_mask, check_ids, check_token_inputs, embedding_rows,
                                              expand_head_mask)
from transformers_fast.modules import (classification_loss, create_sinusoidal_embeddings, kept_positions,
                                      prune_lin_heads)
from transformers_fast.ops import linear as packed_linear
from transformers_fast.runtime import encoder as fast_encoder
from transformers_fast.runtime.fast_path import LinearFastPath
from transformers_fast.models.xlm.configuration_xlm import (XLM_PRETRAINED_CONFIG_ARCHIVE_MAP,  # noqa: F401
                                                            XLM_PRETRAINED_MODEL_ARCHIVE_MAP, XLMConfig)


def _output(name, *fields):
    cls = output_class(name, *fields)
    cls.__module__ = __name__  # found here when pickled
    return cls


# 1.2.0's tuples: XLMModel (last_hidden_state, (hidden_states), (attentions)); the heads put their outputs first.
XLMModelOutput = _output("XLMModelOutput", "last_hidden_state", "hidden_states", "attentions")


class XLMWithLMHeadModelOutput(_output("_XLMWithLMHeadModelFields", "loss", "logits", "hidden_states", "attentions")):
    """Takes logits [batch, seq, n_words]. By position (1.2.0's tuple) they are 1.2.0's [batch * seq, n_words]; by
    name (`.logits`, `["logits"]`, items(): transformers' API) transformers' [batch, seq, n_words], a view."""

    _logits_shape = None  # unknown when rebuilt from values alone: the logits then read as stored

    def __new__(cls, *args, **kwargs):
        logits = kwargs.get("logits")
        if logits is not None:
            kwargs["logits"] = logits.reshape(-1, logits.shape[-1])
        obj = super().__new__(cls, *args, **kwargs)
        if logits is not None:
            obj._logits_shape = logits.shape
        return obj

    @property
    def logits(self):
        return self._named("logits") if "logits" in self._present else None

    def _named(self, key):
        value = tuple.__getitem__(self, self._present.index(key))
        return value.view(self._logits_shape) if key == "logits" and self._logits_shape is not None else value

    def __getitem__(self, key):
        if isinstance(key, str) and key in self._present:
            return self._named(key)
        return super().__getitem__(key)

    def items(self):
        return ((key, self._named(key)) for key in self._present)


XLMWithLMHeadModelOutput.__module__ = __name__
XLMForSequenceClassificationOutput = _output("XLMForSequenceClassificationOutput", "loss", "logits", "hidden_states",
                                             "attentions")
XLMForQuestionAnsweringOutput = _output(
    "XLMForQuestionAnsweringOutput", "loss", "start_top_log_probs", "start_top_index", "end_top_log_probs",
    "end_top_index", "cls_logits", "hidden_states", "attentions")


def gelu(x):
    """Exact (erf) GELU, as 1.2.0's XLM computes it."""
    return F.gelu(x)


def get_masks(slen, lengths, causal, padding_mask=None):
    """1.2.0's masks: the padding mask [batch, slen] (from padding_mask, else the first `lengths` positions) and the
    attention mask (the padding mask, or the causal [batch, slen, slen] lower triangle)."""
    alen = torch.arange(slen, dtype=torch.long, device=lengths.device)
    bs = lengths.size(0)
    if padding_mask is not None:
        mask = padding_mask
    else:
        if int(lengths.max()) > slen:
            raise ValueError(f"lengths holds {int(lengths.max())}, more than the sequence length ({slen})")
        mask = alen < lengths[:, None]
    if causal:
        attn_mask = alen[None, None, :].repeat(bs, slen, 1) <= alen[None, :, None]
    else:
        attn_mask = mask
    return mask, attn_mask


class MultiHeadAttention(nn.Module):
    """1.2.0's self-attention with an optional cache (incremental decoding: cache[layer_id] = (keys, values))."""

    NEW_ID = itertools.count()

    def __init__(self, n_heads, dim, config):
        super().__init__()
        self.layer_id = next(MultiHeadAttention.NEW_ID)
        self.output_attentions = config.output_attentions
        self.dim = dim
        self.n_heads = n_heads
        self.dropout = config.attention_dropout
        self.q_lin = nn.Linear(dim, dim)
        self.k_lin = nn.Linear(dim, dim)
        self.v_lin = nn.Linear(dim, dim)
        self.out_lin = nn.Linear(dim, dim)
        self.pruned_heads = set()

    def prune_heads(self, heads):
        prune_lin_heads(self, heads)

    def forward(self, input, mask, kv=None, cache=None, head_mask=None, output_attentions=None):
        """input [bs, qlen, dim]; mask [bs, klen] (keys) or [bs, qlen, klen] (causal)."""
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        bs, qlen, _ = input.size()
        if kv is None:
            klen = qlen if cache is None else cache["slen"] + qlen
        else:
            klen = kv.size(1)
        n_heads = self.n_heads
        dim_per_head = self.dim // n_heads
        # (-1: a non-causal cache continuation's one new position masks all keys or none, as transformers)
        mask_reshape = (bs, 1, qlen, klen) if mask.dim() == 3 else (bs, 1, 1, -1)

        def shape(x):
            return x.view(bs, -1, n_heads, dim_per_head).transpose(1, 2)

        def unshape(x):
            return x.transpose(1, 2).contiguous().view(bs, -1, n_heads * dim_per_head)

        q = shape(self.q_lin(input))
        if kv is None:
            k = shape(self.k_lin(input))
            v = shape(self.v_lin(input))
        elif cache is None or self.layer_id not in cache:
            k = shape(self.k_lin(kv))
            v = shape(self.v_lin(kv))
        if cache is not None:
            if self.layer_id in cache:
                if kv is None:
                    k_, v_ = cache[self.layer_id]
                    k = torch.cat([k_, k], dim=2)
                    v = torch.cat([v_, v], dim=2)
                else:
                    k, v = cache[self.layer_id]
            cache[self.layer_id] = (k, v)

        q = q / math.sqrt(dim_per_head)
        scores = torch.matmul(q, k.transpose(2, 3))  # [bs, heads, qlen, klen]
        masked = (mask == 0).view(mask_reshape).expand_as(scores)
        # the dtype's minimum, as transformers: a row without any real key attends uniformly (1.2.0's -inf gave NaN)
        scores = scores.masked_fill(masked, torch.finfo(scores.dtype).min)
        weights = F.softmax(scores.float(), dim=-1).type_as(scores)
        weights = F.dropout(weights, p=self.dropout, training=self.training)
        if head_mask is not None:
            weights = weights * head_mask
        context = unshape(torch.matmul(weights, v))
        outputs = (self.out_lin(context),)
        if output_attentions:
            outputs = outputs + (weights,)
        return outputs


class TransformerFFN(nn.Module):
    def __init__(self, in_dim, dim_hidden, out_dim, config):
        super().__init__()
        self.dropout = config.dropout
        self.lin1 = nn.Linear(in_dim, dim_hidden)
        self.lin2 = nn.Linear(dim_hidden, out_dim)
        self.act = F.gelu if config.gelu_activation else F.relu  # F.gelu is 1.2.0's erf form

    def forward(self, input):
        x = self.lin2(self.act(self.lin1(input)))
        return F.dropout(x, p=self.dropout, training=self.training)


class XLMFastPath(fast_encoder.EncoderFastPath):
    """Where the padding-free encoder finds XLM's weights; padded positions are zero in the reference too."""

    padded_positions_zero = True

    def encoder_layers(self):
        return range(self.model.n_layers)

    def layer_parts(self, i) -> dict:
        model = self.model
        attention, ffn = model.attentions[i], model.ffns[i]
        return dict(q=attention.q_lin, k=attention.k_lin, v=attention.v_lin, o=attention.out_lin,
                    ln1=model.layer_norm1[i], ffn_in=ffn.lin1, activation=ffn.act, ffn_out=ffn.lin2,
                    ln2=model.layer_norm2[i], heads=attention.n_heads, head_dim=attention.dim // attention.n_heads)

    def _build_layer(self, layer):
        built = super()._build_layer(layer)
        built.causal = bool(self.model.causal)
        return built

    def position_ids(self, input_ids, inputs_embeds=None):
        source = input_ids if inputs_embeds is None else inputs_embeds
        return torch.arange(source.shape[1], device=source.device).unsqueeze(0)

    def decode(self, input_ids, position_ids, langs, token_type_ids, mask, cache, output_hidden_states,
               inputs_embeds=None):
        """Causal incremental decoding on the packed weights: the new positions [batch, q] attend over the
        cached keys/values (1.2.0's cache dict, [batch, heads, klen, head_dim] per layer_id) and their own,
        causally; hidden states are multiplied by the padding mask after the embeddings and each layer, as in
        the reference. inputs_embeds [batch, q, hidden]: the word vectors in place of input_ids (then None).
        Updates the cache in place; returns ([batch, q, hidden], hidden_states or None)."""
        with torch.no_grad():
            layers = self.layers()
            model = self.model
            bs, q = (input_ids if inputs_embeds is None else inputs_embeds).shape[:2]
            flat = lambda t: None if t is None else t.expand(bs, q).reshape(-1)  # noqa: E731
            words = None if inputs_embeds is None else inputs_embeds.reshape(bs * q, -1)
            x = self.embed(flat(input_ids), flat(position_ids), flat(token_type_ids), words=words,
                           **({} if langs is None else {"langs": flat(langs)}))
            keep = mask.reshape(-1, 1).to(x.dtype)
            x = x * keep
            states = [x]
            for attention, layer in zip(model.attentions, layers):
                heads, head_dim = layer.heads, layer.head_dim
                qkv = packed_linear(x, layer.qkv).view(bs, q, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
                query, key, value = qkv.unbind(0)  # [bs, heads, q, head_dim]
                if attention.layer_id in cache:
                    past_k, past_v = cache[attention.layer_id]
                    key, value = torch.cat([past_k, key], dim=2), torch.cat([past_v, value], dim=2)
                else:
                    key, value = key.contiguous(), value.contiguous()
                cache[attention.layer_id] = (key, value)
                context = ops.attention(query.contiguous(), key, value, scale=layer.scale, causal=True)
                context = context.transpose(1, 2).reshape(bs * q, layer.width)
                w1, b1, eps1 = layer.ln1
                attended = ops.add_layer_norm(packed_linear(context, layer.out), x, w1, b1, eps1,
                                              x_bias=layer.out_bias)
                inner = packed_linear(attended, layer.ffn_in)
                if layer.activation is not None:
                    inner = layer.activation(inner)
                w2, b2, eps2 = layer.ln2
                x = ops.add_layer_norm(packed_linear(inner, layer.ffn_out), attended, w2, b2, eps2,
                                       x_bias=layer.ffn_out_bias) * keep
                states.append(x)
            cache["slen"] += q
            hidden = x.shape[-1]
            return x.view(bs, q, hidden), (tuple(h.view(bs, q, hidden) for h in states)
                                           if output_hidden_states else None)

    def embed(self, ids, positions, token_types, words=None, langs=None):
        model = self.model
        word = model.embeddings  # (a module: the table may be int8)
        x = word(ids) if words is None else words
        if langs is not None:
            x = x + F.embedding(langs, model.lang_embeddings.weight)
        if token_types is not None:
            x = x + word(token_types)
        pos = F.embedding(positions, model.position_embeddings.weight)
        ln = model.layer_norm_emb
        return ops.add_layer_norm(x, pos, ln.weight, ln.bias, ln.eps)


class XLMPreTrainedModel(PreTrainedModel):
    """Weight initialisation (1.2.0's) and loading shared by the XLM classes."""

    config_class = XLMConfig
    pretrained_model_archive_map = XLM_PRETRAINED_MODEL_ARCHIVE_MAP
    base_model_prefix = "transformer"
    load_tf_weights = None
    keys_to_ignore_on_load = (r"(^|\.)position_ids$",)
    tied_head_keys = ("pred_layer.proj.weight",)
    prunes_whole_layers = False

    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):
            if self.config is not None and self.config.embed_init_std is not None:
                nn.init.normal_(module.weight, mean=0, std=self.config.embed_init_std)
        if isinstance(module, nn.Linear):
            if self.config is not None and self.config.init_std is not None:
                nn.init.normal_(module.weight, mean=0, std=self.config.init_std)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0.0)
        if isinstance(module, nn.LayerNorm):
            nn.init.zeros_(module.bias)
            nn.init.ones_(module.weight)
        if isinstance(module, XLMModel) and self.config.sinusoidal_embeddings:
            # after the embedding's own draw (children come first in apply): the table, as the option says
            weight = module.position_embeddings.weight
            create_sinusoidal_embeddings(weight.shape[0], weight.shape[1], out=weight)


class XLMModel(CheckpointedLayers, XLMPreTrainedModel):
    """Outputs: last_hidden_state [batch, seq, emb_dim] (zero at padded positions), (hidden_states),
    (attentions). With `cache` (a dict, {"slen": 0} to start) only the positions after cache["slen"] are
    computed and the cache is updated in place (incremental decoding of the causal models; a non-causal model
    continues one position at a time, which attends to every cached one, as transformers).

    Extra keyword arguments (not in 1.2.0): output_attentions, output_hidden_states (override the config)."""

    # 1.2.0's list (from XLM's original code) of the attributes a model of this kind describes itself by
    ATTRIBUTES = ['encoder', 'eos_index', 'pad_index', 'n_langs', 'use_lang_emb', 'n_words', 'dim', 'n_layers',
                  'n_heads', 'hidden_dim', 'dropout', 'attention_dropout', 'asm', 'asm_cutoffs', 'asm_div_value']

    def __init__(self, config: XLMConfig):
        super().__init__(config)
        self.output_attentions = config.output_attentions
        self.output_hidden_states = config.output_hidden_states
        self.is_encoder = config.is_encoder
        self.is_decoder = not config.is_encoder
        self.causal = config.causal
        self.n_langs = config.n_langs
        self.use_lang_emb = config.use_lang_emb
        self.n_words = config.n_words
        self.eos_index = config.eos_index
        self.pad_index = config.pad_index
        self.dim = config.emb_dim
        self.hidden_dim = self.dim * 4
        self.n_heads = config.n_heads
        self.n_layers = config.n_layers
        self.dropout = config.dropout
        self.attention_dropout = config.attention_dropout

        self.position_embeddings = nn.Embedding(config.max_position_embeddings, self.dim)
        if config.sinusoidal_embeddings:
            create_sinusoidal_embeddings(config.max_position_embeddings, self.dim, out=self.position_embeddings.weight)
        if config.n_langs > 1 and config.use_lang_emb:
            self.lang_embeddings = nn.Embedding(self.n_langs, self.dim)
        self.embeddings = nn.Embedding(self.n_words, self.dim, padding_idx=self.pad_index)
        self.layer_norm_emb = nn.LayerNorm(self.dim, eps=config.layer_norm_eps)

        self.attentions = nn.ModuleList()
        self.layer_norm1 = nn.ModuleList()
        self.ffns = nn.ModuleList()
        self.layer_norm2 = nn.ModuleList()
        for _ in range(self.n_layers):
            self.attentions.append(MultiHeadAttention(self.n_heads, self.dim, config=config))
            self.layer_norm1.append(nn.LayerNorm(self.dim, eps=config.layer_norm_eps))
            self.ffns.append(TransformerFFN(self.dim, self.hidden_dim, self.dim, config=config))
            self.layer_norm2.append(nn.LayerNorm(self.dim, eps=config.layer_norm_eps))
        self.fast = XLMFastPath(self)
        self.init_weights()

    @property
    def has_lang_embeddings(self) -> bool:
        return self.n_langs > 1 and self.use_lang_emb

    def get_input_embeddings(self):
        return self.embeddings

    def set_input_embeddings(self, value):
        self.embeddings = value

    def _resize_token_embeddings(self, new_num_tokens):
        self.resize_token_embeddings(new_num_tokens)
        return self.embeddings

    def _prune_heads(self, heads_to_prune):
        for layer, heads in heads_to_prune.items():
            self.attentions[layer].prune_heads(heads)

    # ---- input checks ----
    def _check_inputs(self, input_ids, lengths, position_ids, langs, token_type_ids, attention_mask, cache,
                      inputs_embeds=None):
        """Raises on bad input; returns inputs_embeds in the model's dtype (None when ids are given)."""
        inputs_embeds, name, shape = check_token_inputs(input_ids, inputs_embeds, embedding_rows(self.embeddings),
                                                        "config.n_words", self.position_embeddings.weight, "emb_dim",
                                                        self.dim)
        bs, slen = shape
        if slen == 0 or bs == 0:
            raise ValueError(f"{name} is empty (shape {tuple(shape)}): at least one token is needed")
        if lengths is not None:
            check_ids("lengths", lengths, slen + 1, "lengths count real tokens: 0 to the sequence length")
            if tuple(lengths.shape) != (bs,):
                raise ValueError(f"lengths must have shape [batch] = [{bs}], got {tuple(lengths.shape)}")
        max_pos = self.position_embeddings.num_embeddings
        if position_ids is not None:
            check_ids("position_ids", position_ids, max_pos, "config.max_position_embeddings", shape=shape)
        elif slen > max_pos:
            raise ValueError(f"{name} has {slen} positions but this model takes at most {max_pos} "
                             "(config.max_position_embeddings)")
        if langs is not None:
            if self.has_lang_embeddings:
                check_ids("langs", langs, self.n_langs, "language ids: config.n_langs languages, see "
                          "config.lang2id", shape=shape)
            elif not isinstance(langs, torch.Tensor) or langs.shape != shape:
                raise ValueError(f"langs must be a tensor of shape {tuple(shape)}")
        if token_type_ids is not None:
            check_ids("token_type_ids", token_type_ids, embedding_rows(self.embeddings),
                      "XLM embeds token types with the word embeddings: config.n_words", shape=shape)
        if attention_mask is not None:
            check_attention_mask(attention_mask, shape)
        if cache is not None:
            if not isinstance(cache, dict) or not isinstance(cache.get("slen"), int):
                raise TypeError("cache must be a dict with an integer 'slen' (start with {'slen': 0})")
            if not 0 <= cache["slen"] < slen:
                raise ValueError(f"cache holds {cache['slen']} positions: {name} must hold the whole sequence "
                                 f"so far and at least one new token (it has {slen})")
            if cache["slen"] and not self.causal and slen - cache["slen"] != 1:
                raise ValueError("a non-causal model continues a cache one position at a time (it attends to every "
                                 "cached position, as transformers)")
        return inputs_embeds

    def _fast_usable(self, input_ids, mask, head_mask, output_attentions, cache) -> bool:
        if not self.fast.usable(input_ids, mask, head_mask, output_attentions):
            return False
        if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
            return False  # a soft mask scales the hidden states: only the reference path does that
        if cache is not None:
            return self.causal  # decode(): the reference's own masking, on the packed weights
        if self.causal:
            real = mask != 0
            # right padding only: then no real token sees a padded key through the causal mask
            return bool((real[:, 1:] <= real[:, :-1]).all())
        return True

    def forward(self, input_ids=None, lengths=None, position_ids=None, langs=None, token_type_ids=None,
                attention_mask=None, cache=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None):
        inputs_embeds = self._check_inputs(input_ids, lengths, position_ids, langs, token_type_ids, attention_mask,
                                           cache, inputs_embeds)
        output_attentions = self.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.output_hidden_states if output_hidden_states is None else output_hidden_states
        if langs is not None and not self.has_lang_embeddings:
            langs = None
        source = input_ids if inputs_embeds is None else inputs_embeds
        bs, slen = source.shape[:2]
        if lengths is None:
            if inputs_embeds is None:
                lengths = (input_ids != self.pad_index).sum(dim=1).long()
            else:  # no ids to find padding in: every position is real (transformers)
                lengths = torch.full((bs,), slen, dtype=torch.long, device=source.device)
        mask, attn_mask = get_masks(slen, lengths, self.causal, padding_mask=attention_mask)

        fast = self._fast_usable(source, mask, head_mask, output_attentions, cache)
        if fast and cache is None:
            kwargs = {} if langs is None else {"langs": langs}
            hidden, hidden_states = self.fast(input_ids, token_type_ids, mask, position_ids, output_hidden_states,
                                              inputs_embeds=inputs_embeds, **kwargs)
            return XLMModelOutput(last_hidden_state=hidden, hidden_states=hidden_states)

        if position_ids is None:
            position_ids = torch.arange(slen, dtype=torch.long, device=source.device).unsqueeze(0)
        dtype = self.position_embeddings.weight.dtype  # (the word table may be int8)
        head_mask = expand_head_mask(head_mask, self.n_layers, self.n_heads, dtype)
        if cache is not None and cache["slen"]:
            # embeddings, like ids, hold the whole sequence so far: only the new positions run
            _slen = slen - cache["slen"]
            if input_ids is not None:
                input_ids = input_ids[:, -_slen:]
            if inputs_embeds is not None:
                inputs_embeds = inputs_embeds[:, -_slen:]
            position_ids = position_ids[:, -_slen:]
            if langs is not None:
                langs = langs[:, -_slen:]
            if token_type_ids is not None:
                token_type_ids = token_type_ids[:, -_slen:]
            mask = mask[:, -_slen:]
            attn_mask = attn_mask[:, -_slen:]
        if fast:  # with a cache
            hidden, hidden_states = self.fast.decode(input_ids, position_ids, langs, token_type_ids, mask, cache,
                                                     output_hidden_states, inputs_embeds)
            return XLMModelOutput(last_hidden_state=hidden, hidden_states=hidden_states)

        tensor = self.embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        tensor = tensor + self.position_embeddings(position_ids).expand_as(tensor)
        if langs is not None:
            tensor = tensor + self.lang_embeddings(langs)
        if token_type_ids is not None:
            tensor = tensor + self.embeddings(token_type_ids)
        tensor = self.layer_norm_emb(tensor)
        tensor = F.dropout(tensor, p=self.dropout, training=self.training)
        keep = mask.unsqueeze(-1).to(tensor.dtype)
        tensor = tensor * keep

        hidden_states = ()
        attentions = ()
        for i in range(self.n_layers):
            if output_hidden_states:
                hidden_states = hidden_states + (tensor,)
            layer = functools.partial(self._layer, i, cache=cache, head_mask=head_mask[i],
                                      output_attentions=output_attentions)
            # (the cache is written as a layer runs: a recomputation in backward would write it twice)
            tensor, *probs = layer(tensor, attn_mask, keep) if cache is not None else \
                self.run_layer(layer, tensor, attn_mask, keep)
            if output_attentions:
                attentions = attentions + tuple(probs)
        if output_hidden_states:
            hidden_states = hidden_states + (tensor,)
        if cache is not None:
            cache["slen"] += tensor.size(1)
        return XLMModelOutput(last_hidden_state=tensor, hidden_states=hidden_states if output_hidden_states else None,
                              attentions=attentions if output_attentions else None)

    def _layer(self, i, tensor, attn_mask, keep, cache, head_mask, output_attentions):
        """Layer i (attention, then FFN, each with its LayerNorm after; padded positions zeroed): (output,
        (attention probabilities))"""
        attn_outputs = self.attentions[i](tensor, attn_mask, cache=cache, head_mask=head_mask,
                                          output_attentions=output_attentions)
        attn = F.dropout(attn_outputs[0], p=self.dropout, training=self.training)
        tensor = self.layer_norm1[i](tensor + attn)
        tensor = self.layer_norm2[i](tensor + self.ffns[i](tensor))
        return (tensor * keep,) + tuple(attn_outputs[1:])


class XLMPredLayer(nn.Module):
    """Prediction layer: a linear projection to the vocabulary (tied to the word embeddings), or with
    config.asm an adaptive softmax (log-probabilities out)."""

    def __init__(self, config):
        super().__init__()
        self.asm = config.asm
        self.n_words = config.n_words
        self.pad_index = config.pad_index
        dim = config.emb_dim
        if config.asm is False:
            self.proj = nn.Linear(dim, config.n_words, bias=True)
            self.fast = LinearFastPath(self, "proj")  # (prepacked for inference)
        else:
            self.proj = nn.AdaptiveLogSoftmaxWithLoss(in_features=dim, n_classes=config.n_words,
                                                      cutoffs=list(config.asm_cutoffs),
                                                      div_value=config.asm_div_value, head_bias=True)

    def _labels(self, y, rows, n_words):
        if not isinstance(y, torch.Tensor) or y.numel() != rows:
            raise ValueError(f"labels must hold one id per position ({rows}), got "
                             f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
        y = y.reshape(-1)
        check_ids("labels", y, n_words, "the vocabulary size, or -100 (ignored)", ignored=(-100,))
        return y

    def forward(self, x, y=None):
        """x [batch, seq, dim] -> (loss), scores [batch * seq, n_words] (1.2.0's layout)."""
        x = x.reshape(-1, x.shape[-1])
        if self.asm is False:
            scores = self.fast(x) if y is None and self.fast.usable(x) else self.proj(x)
            outputs = (scores,)
            if y is not None:
                labels = self._labels(y, x.shape[0], scores.shape[-1])
                outputs = (F.cross_entropy(scores, labels, reduction="mean"),) + outputs
        else:
            scores = self.proj.log_prob(x)
            outputs = (scores,)
            if y is not None:
                _, loss = self.proj(x, self._labels(y, x.shape[0], scores.shape[-1]))
                outputs = (loss,) + outputs
        return outputs


def _transformer_kwargs(lengths, position_ids, langs, token_type_ids, attention_mask, cache, head_mask,
                        output_attentions, output_hidden_states, inputs_embeds):
    return dict(lengths=lengths, position_ids=position_ids, langs=langs, token_type_ids=token_type_ids,
                attention_mask=attention_mask, cache=cache, head_mask=head_mask, output_attentions=output_attentions,
                output_hidden_states=output_hidden_states, inputs_embeds=inputs_embeds)


class XLMWithLMHeadModel(PlaceholderGenerationMixin, XLMPreTrainedModel):
    """Outputs: (loss), scores [batch * seq, n_words] (1.2.0's layout; `.logits` reads them as transformers'
    [batch, seq, n_words]; log-probabilities with config.asm),
    (hidden_states), (attentions). The projection is tied to the word embeddings.

    generate / stream_generate: as transformers' (see generation_placeholder), each step predicts the mask token
    appended to the sequence."""

    def __init__(self, config: XLMConfig):
        super().__init__(config)
        self.transformer = XLMModel(config)
        self.pred_layer = XLMPredLayer(config)
        self.init_weights()

    def get_output_embeddings(self):
        return None if self.config.asm else self.pred_layer.proj

    def tie_weights(self):
        # (transformers' tie_word_embeddings=False keeps the projection its own)
        if not self.config.asm and getattr(self.config, "tie_word_embeddings", True):
            self._tie_or_clone_weights(self.pred_layer.proj, self.transformer.embeddings)

    def forward(self, input_ids=None, lengths=None, position_ids=None, langs=None, token_type_ids=None,
                attention_mask=None, cache=None, labels=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None, logits_to_keep=0):
        with self.transformer.fast.reference_path(labels is not None):
            outputs = self.transformer(input_ids, **_transformer_kwargs(
                lengths, position_ids, langs, token_type_ids, attention_mask, cache, head_mask, output_attentions,
                output_hidden_states, inputs_embeds))
        hidden = kept_positions(outputs[0], logits_to_keep, labels)
        head = self.pred_layer(hidden, labels)
        loss, scores = (None, head[0]) if labels is None else head
        return XLMWithLMHeadModelOutput(loss=loss, logits=scores.view(*hidden.shape[:-1], -1),
                                        hidden_states=outputs.hidden_states,
                                        attentions=outputs.attentions)

    def _placeholder_step(self, ids, cache, use_cache: bool, outputs: dict):
        """transformers' generate step: the mask token (config.mask_token_id) appended, every position in language
        config.lang_id (0 for both where a 1.2.0 config has neither, as transformers' XLMConfig). With use_cache only
        the positions after the cached ones run, the new mask token: the tokens generated never enter the model,
        the earlier steps' mask tokens stay in the cache in their place (transformers' generate does the same)."""
        config = self.config
        ids = self._with_placeholder(ids, getattr(config, "mask_token_id", 0))
        lang_id = getattr(config, "lang_id", 0)
        cache = (cache or {"slen": 0}) if use_cache else None
        out = self(ids, langs=None if lang_id is None else torch.full_like(ids, lang_id), cache=cache,
                   logits_to_keep=1, **outputs)
        return out, cache

    @staticmethod
    def _reorder_placeholder_cache(cache: dict, rows: torch.Tensor) -> dict:
        return {key: (value[0][rows], value[1][rows]) if isinstance(key, int) else value
                for key, value in cache.items()}

    def _placeholder_returned_cache(self, cache: dict):
        # (1.2.0's cache is keyed by each attention's process-wide layer_id)
        return as_transformers_cache([cache[attention.layer_id] for attention in self.transformer.attentions])

    def _check_placeholder_length(self, capacity: int) -> None:
        limit = self.transformer.position_embeddings.num_embeddings
        if capacity > limit:
            raise ValueError(f"the prompt and max_new_tokens - 1 tokens, then the mask token, make {capacity} "
                             f"positions but this model takes at most {limit} (config.max_position_embeddings)")


class XLMForSequenceClassification(XLMPreTrainedModel):
    """Outputs: (loss), logits [batch, num_labels], (hidden_states), (attentions). The summary reads the first
    position (config.summary_type "first")."""

    def __init__(self, config: XLMConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = XLMModel(config)
        self.sequence_summary = SequenceSummary(config)
        self.init_weights()

    def forward(self, input_ids=None, lengths=None, position_ids=None, langs=None, token_type_ids=None,
                attention_mask=None, cache=None, labels=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None):
        with self.transformer.fast.reference_path(labels is not None):
            outputs = self.transformer(input_ids, **_transformer_kwargs(
                lengths, position_ids, langs, token_type_ids, attention_mask, cache, head_mask, output_attentions,
                output_hidden_states, inputs_embeds))
        logits = self.sequence_summary(outputs[0])
        if labels is not None and logits.shape[-1] != self.num_labels:
            # unprojected (summary_use_proj or summary_proj_to_labels False), the summary is the hidden state:
            # both references crash inside torch on its loss
            raise ValueError(f"labels need logits of num_labels ({self.num_labels}) features, the summary gives "
                             f"{logits.shape[-1]}: set summary_use_proj=True and summary_proj_to_labels=True")
        loss = None if labels is None else classification_loss(logits, labels, self.num_labels,
                                                                  getattr(self.config, "problem_type", None))
        return XLMForSequenceClassificationOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                                  attentions=outputs.attentions)


class XLMForQuestionAnswering(XLMPreTrainedModel):
    """SQuAD head with beam search (1.2.0's SQuADHead). With start_positions and end_positions: (loss),
    (hidden_states), (attentions); otherwise start_top_log_probs, start_top_index [batch, start_n_top],
    end_top_log_probs, end_top_index [batch, start_n_top * end_n_top], cls_logits [batch], ... ("log_probs" are
    probabilities, as in 1.2.0)."""

    def __init__(self, config: XLMConfig):
        super().__init__(config)
        self.transformer = XLMModel(config)
        self.qa_outputs = SQuADHead(config)
        self.init_weights()

    def forward(self, input_ids=None, lengths=None, position_ids=None, langs=None, token_type_ids=None,
                attention_mask=None, cache=None, start_positions=None, end_positions=None, cls_index=None,
                is_impossible=None, p_mask=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, inputs_embeds=None):
        training_loss = start_positions is not None and end_positions is not None
        with self.transformer.fast.reference_path(training_loss):
            outputs = self.transformer(input_ids, **_transformer_kwargs(
                lengths, position_ids, langs, token_type_ids, attention_mask, cache, head_mask, output_attentions,
                output_hidden_states, inputs_embeds))
        head = self.qa_outputs(outputs[0], start_positions=start_positions, end_positions=end_positions,
                               cls_index=cls_index, is_impossible=is_impossible, p_mask=p_mask)
        rest = dict(hidden_states=outputs.hidden_states, attentions=outputs.attentions)
        if len(head) == 1:
            return XLMForQuestionAnsweringOutput(loss=head[0], **rest)
        names = ("start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index", "cls_logits")
        return XLMForQuestionAnsweringOutput(**dict(zip(names, head)), **rest)


# The remaining module-level names of 1.2.0's modeling module.
from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME  # noqa: E402,F401
from transformers_fast.modeling_utils import add_start_docstrings  # noqa: E402,F401
from transformers_fast.configuration_utils import PretrainedConfig  # noqa: E402,F401
XLM_START_DOCSTRING = "XLM: a model of pytorch-transformers 1.2.0, run by transformers_fast.\n"
XLM_INPUTS_DOCSTRING = "Inputs: as the forward() of the same class in pytorch-transformers 1.2.0.\n"
