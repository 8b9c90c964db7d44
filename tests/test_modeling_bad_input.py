"""Bad input gives a clear Python exception naming the argument, for every family."""
from __future__ import annotations

import pytest
import torch

import transformers_fast as tf

CONFIGS = {
    "bert": lambda: tf.BertModel(tf.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                               num_attention_heads=2, intermediate_size=20,
                                               max_position_embeddings=12, type_vocab_size=2)),
    "roberta": lambda: tf.RobertaModel(tf.RobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                        num_attention_heads=2, intermediate_size=20,
                                                        max_position_embeddings=14, type_vocab_size=1)),
    "distilbert": lambda: tf.DistilBertModel(tf.DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2,
                                                                 hidden_dim=20, max_position_embeddings=12)),
}


@pytest.fixture(params=list(CONFIGS), scope="module")
def model(request):
    return request.param, CONFIGS[request.param]().eval()


def ids(batch=2, seq=5):
    return torch.randint(3, 50, (batch, seq))


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_bad_ids(model, training):
    family, m = model
    m.train(training)
    bad = ids()
    bad[1, 2] = 50
    with pytest.raises(ValueError, match=r"input_ids .*50.*vocab"):
        m(bad)
    bad[1, 2] = -3
    with pytest.raises(ValueError, match=r"input_ids .*-3"):
        m(bad)
    with pytest.raises(TypeError, match="input_ids .*integer"):
        m(ids().float())
    with pytest.raises(TypeError, match=r"input_ids must hold integer ids \(torch.long or torch.int32\), got dtype "
                                        r"torch.uint8"):
        m(ids().to(torch.uint8))
    with pytest.raises(TypeError, match="input_ids"):
        m([[1, 2, 3]])
    with pytest.raises(ValueError, match="at most 12"):
        m(ids(seq=13))
    with pytest.raises(ValueError, match="attention_mask .*shape"):
        m(ids(), attention_mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="input_ids must have shape"):
        m(ids()[0])
    m.eval()


def test_bad_token_types_and_positions():
    m = CONFIGS["bert"]().eval()
    types = torch.zeros(2, 5, dtype=torch.long)
    types[0, 1] = 2
    with pytest.raises(ValueError, match="token_type_ids .*type_vocab_size"):
        m(ids(), token_type_ids=types)
    with pytest.raises(ValueError, match="token_type_ids has shape"):
        m(ids(), token_type_ids=torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="position_ids .*12"):
        m(ids(), position_ids=torch.arange(8, 13).expand(2, 5))
    for shape in ((3, 5), (2, 2, 5), ()):  # a batch size that does not broadcast, too many dims, a scalar
        with pytest.raises(ValueError, match="position_ids has shape"):
            m(ids(), position_ids=torch.zeros(shape, dtype=torch.long))
    with pytest.raises(ValueError, match="head_mask"):
        m(ids(), head_mask=torch.ones(3))


def test_bad_multiple_choice_and_config():
    config = tf.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=20)
    m = tf.BertForMultipleChoice(config).eval()
    with pytest.raises(ValueError, match="num_choices"):
        m(ids())
    with pytest.raises(TypeError, match="PretrainedConfig"):
        tf.BertModel({"vocab_size": 3})
    with pytest.raises(ValueError, match="num_labels"):
        tf.DistilBertForQuestionAnswering(tf.DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2,
                                                              hidden_dim=20, num_labels=3))


@pytest.mark.parametrize("inference", [False, True], ids=["no_grad", "inference_mode"])
def test_empty_sequences_and_wrong_device(model, inference):
    family, m = model
    with torch.inference_mode(inference):
        with pytest.raises(ValueError, match="input_ids is empty"):
            m(torch.zeros(2, 0, dtype=torch.long))
        # A tensor on another device than the weights (meta stands in for a GPU here).
        with pytest.raises(ValueError, match="input_ids is on device meta"):
            m(ids().to("meta"))


def test_gpt2_input_on_wrong_device():
    m = tf.GPT2Model(tf.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=12)).eval()
    with pytest.raises(ValueError, match="input_ids is on device meta"):
        m(ids().to("meta"))
    with pytest.raises(ValueError, match="input_ids is empty"):
        m(torch.zeros(2, 0, dtype=torch.long))


def test_multiple_choice_without_tokens_or_choices_is_a_clear_error():
    config = tf.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=20)
    m = tf.BertForMultipleChoice(config).eval()
    with pytest.raises(ValueError, match="input_ids is empty"):
        m(torch.zeros(2, 3, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="no choices"):
        m(torch.zeros(2, 0, 5, dtype=torch.long))


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_empty_batch_gives_empty_outputs_as_1_2_0(model, grad):
    """A batch of no rows gives [0, seq, hidden], as 1.2.0 does for BERT and RoBERTa (its DistilBERT fails in a view)."""
    family, m = model
    with torch.set_grad_enabled(grad):
        out = m(torch.zeros(0, 5, dtype=torch.long))
    assert out[0].shape == (0, 5, 16)


@pytest.mark.parametrize("family", ["gpt2", "openai", "gpt2-int8"])
@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_lm_head_of_an_empty_batch(family, grad):
    """GPT LM heads on a batch of no rows give [0, seq, vocab] as 1.2.0, on the fused path (no_grad) too."""
    if family == "openai":
        m = tf.OpenAIGPTLMHeadModel(tf.OpenAIGPTConfig(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=12))
    else:
        m = tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=12))
    m.eval()
    if family.endswith("int8"):
        tf.quantize(m, "int8", lm_head=True)
    with torch.set_grad_enabled(grad):
        out = m(torch.zeros(0, 5, dtype=torch.long))
    assert out[0].shape == (0, 5, 50)
