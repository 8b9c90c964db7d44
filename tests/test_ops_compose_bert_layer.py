"""The ops compose into a padding-free BERT encoder layer equal to transformers' BertLayer on the
real positions of a padded batch (the way the models use them: fused QKV, packed attention on
strided views, residual + LayerNorm fused, GELU fused into the intermediate linear)."""
import pytest
import torch

from transformers_fast import ops

transformers = pytest.importorskip("transformers")
from transformers.models.bert.modeling_bert import BertConfig, BertLayer  # noqa: E402


def ours(layer, hidden, keep):
    att, inter, out = layer.attention, layer.intermediate, layer.output
    sa = att.self
    heads, dim = sa.num_attention_heads, sa.attention_head_size
    qkv = ops.PackedLinear(torch.cat([sa.query.weight, sa.key.weight, sa.value.weight]),
                           torch.cat([sa.query.bias, sa.key.bias, sa.value.bias]))
    attn_dense = ops.PackedLinear.from_linear(att.output.dense)
    ffn_in = ops.PackedLinear.from_linear(inter.dense, activation="gelu")
    ffn_out = ops.PackedLinear.from_linear(out.dense)
    lengths = keep.sum(1)
    cu = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    cu[1:] = lengths.cumsum(0)
    h = hidden[keep.bool()]  # [tokens, hidden]: padding removed
    t = h.shape[0]
    fused = qkv(h)  # [tokens, 3 * H * D]
    q, k, v = (fused[:, i * heads * dim:(i + 1) * heads * dim].view(t, heads, dim) for i in range(3))
    ctx = ops.attention(q, k, v, cu_seqlens=cu, max_seqlen=int(lengths.max())).view(t, heads * dim)
    ln1 = att.output.LayerNorm
    a = ops.add_layer_norm(attn_dense(ctx), h, ln1.weight, ln1.bias, ln1.eps)
    ln2 = out.LayerNorm
    return ops.add_layer_norm(ffn_out(ffn_in(a)), a, ln2.weight, ln2.bias, ln2.eps)


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@torch.no_grad()
def test_padding_free_bert_layer_matches_transformers(attn_implementation):
    config = BertConfig(hidden_size=768, num_attention_heads=12, intermediate_size=3072,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config._attn_implementation = attn_implementation
    layer = BertLayer(config).eval()
    batch, seq = 3, 37
    hidden = torch.randn(batch, seq, 768)
    keep = torch.ones(batch, seq, dtype=torch.long)
    keep[1, 20:] = 0
    keep[2, 1:] = 0
    mask = (1.0 - keep[:, None, None, :].float()) * torch.finfo(torch.float32).min
    want = layer(hidden, attention_mask=mask)
    want = want[0] if isinstance(want, tuple) else want
    got = ours(layer, hidden, keep)
    torch.testing.assert_close(got, want[keep.bool()], rtol=1e-4, atol=1e-4)
