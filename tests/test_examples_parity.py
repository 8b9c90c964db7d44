"""The example scripts of pytorch-transformers 1.2.0 as its users ran them, with only the import changed: each flow
runs once with 1.2.0's classes and once with ours, on the same tiny random checkpoint (saved by 1.2.0) and the same
torch seeds, and every loss, gradient, updated weight and output is compared.

- run_glue: model.train(), AdamW with 1.2.0's weight-decay groups + WarmupLinearSchedule, gradient clipping, three
  steps with dropout off and on; then eval logits, save_pretrained and from_pretrained across the two libraries.
- run_squad: start/end positions (XLNet/XLM: cls_index, p_mask, is_impossible), loss and gradients, eval outputs
  (XLNet/XLM: the top-k beam outputs).
- run_generation: the sampling loop with temperature/top-k/top-p filtering (XLNet with perm_mask/target_mapping,
  GPT-2 with past, Transformer-XL with mems): the logits of every step and the sampled tokens.
- run_lm_finetuning: masked-LM and causal-LM labels with 1.2.0's ignore index -1 (XLM: -100), loss and gradients.
- The README's usage: output_hidden_states / output_attentions / torchscript given to from_pretrained, head_mask,
  prune_heads and resize_token_embeddings kept through save_pretrained, and the tokenizer methods of 1.2.0.

Batches are padded (attention_mask with zeros; XLNet on the left, as run_glue pads it). BERT-family hidden states at
padded positions are not computed (README, "Padded batches"): per-token outputs are compared at real positions.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import transformers_fast as tf
from modeling_helpers import ATOL, quiet_transformers, randomize_all
from modeling_helpers import compare as compare_tensors

pt = pytest.importorskip("pytorch_transformers")

VOCAB = 99
LOSS_ATOL = 1e-5
FAMILIES = {  # family: (config class, its tiny arguments, the arguments that turn every dropout off)
    "bert": ("BertConfig", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                                max_position_embeddings=64, type_vocab_size=2),
             dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)),
    "roberta": ("RobertaConfig", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                                      max_position_embeddings=66, type_vocab_size=1),
                dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)),
    "distilbert": ("DistilBertConfig", dict(dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64),
                   dict(dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0, qa_dropout=0.0)),
    "xlnet": ("XLNetConfig", dict(d_model=32, n_layer=2, n_head=4, d_inner=37, start_n_top=3, end_n_top=2),
              dict(dropout=0.0, summary_last_dropout=0.0)),
    "xlm": ("XLMConfig", dict(emb_dim=32, n_layers=2, n_heads=4, n_langs=1, start_n_top=3, end_n_top=2),
            dict(dropout=0.0, attention_dropout=0.0, summary_last_dropout=0.0)),
    "gpt2": ("GPT2Config", dict(n_positions=48, n_ctx=48, n_embd=32, n_layer=2, n_head=4), {}),
    "openai": ("OpenAIGPTConfig", dict(n_positions=48, n_ctx=48, n_embd=32, n_layer=2, n_head=4), {}),
    "transfo_xl": ("TransfoXLConfig", dict(cutoffs=[10, 30, 60], d_model=32, d_embed=32, n_head=4, d_head=8,
                                           d_inner=48, div_val=2, n_layer=2, tgt_len=7, mem_len=5, clamp_len=6,
                                           same_length=True), {}),
}
PAD = {"roberta": 1, "xlnet": 5}  # run_glue pads with the tokenizer's pad id (XLNet's is 5); others 0


def checkpoint(tmp_path, family, class_name, dropout=True, **extra):
    """A tiny random 1.2.0 model saved by its save_pretrained: (folder, 1.2.0's model, ours), both loaded from it."""
    quiet_transformers()
    config_name, kwargs, no_dropout = FAMILIES[family]
    kwargs = dict(kwargs, **({} if dropout else no_dropout), **extra)
    torch.manual_seed(0)
    with torch.no_grad():  # 1.2.0's DistilBERT and XLM fill their sinusoidal tables in place
        ref = getattr(pt, class_name)(getattr(pt, config_name)(VOCAB, **kwargs))
    randomize_all(ref, scale=0.05)
    folder = tmp_path / f"{family}-{class_name}"
    folder.mkdir()  # 1.2.0's save_pretrained wants an existing folder
    folder = str(folder)
    ref.save_pretrained(folder)
    with torch.no_grad():
        ref = getattr(pt, class_name).from_pretrained(folder)
    return folder, ref, getattr(tf, class_name).from_pretrained(folder)


def padded_batch(family, seed, batch=4, seq=10):
    """input_ids and attention_mask of a padded batch, rows 1 and 2 shorter (XLNet padded on the left)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(6, VOCAB, (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    if family == "xlnet":
        mask = mask.flip(1)
    return ids.masked_fill(mask == 0, PAD.get(family, 0)), mask


def glue_inputs(family, seed):
    """One run_glue batch: token_type_ids for BERT and XLNet only (XLNet: cls segment 2, padding segment 4)."""
    ids, mask = padded_batch(family, seed)
    inputs = {"input_ids": ids, "attention_mask": mask,
              "labels": torch.randint(0, 3, (ids.shape[0],), generator=torch.Generator().manual_seed(seed))}
    if family in ("bert", "xlnet"):
        segments = (torch.arange(ids.shape[1]) >= 5).long().expand_as(ids).clone()
        if family == "xlnet":
            segments[:, -1] = 2
            segments[mask == 0] = 4
        inputs["token_type_ids"] = segments * mask if family == "bert" else segments
    return inputs


def fine_tune(lib, model, batches, steps=3):
    """run_glue's training loop: losses of each step (the model's weights are updated in place)."""
    model.train()
    no_decay = ["bias", "LayerNorm.weight"]
    groups = [{"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
               "weight_decay": 0.01},
              {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
               "weight_decay": 0.0}]
    optimizer = lib.optimization.AdamW(groups, lr=1e-3, eps=1e-8)
    scheduler = lib.optimization.WarmupLinearSchedule(optimizer, warmup_steps=1, t_total=steps)
    losses = []
    for step in range(steps):
        torch.manual_seed(100 + step)
        loss = model(**batches[step])[0]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scheduler.step()  # (run_glue 1.2.0 steps the schedule first)
        optimizer.step()
        model.zero_grad()
        losses.append(loss.item())
    return losses


def compare(ours, ref, mask=None, path="output"):
    """compare() of the model tests where None stands for a missing output or gradient on both sides (XLNet's mems
    without mem_len, a parameter no loss reaches)."""
    if ref is None or ours is None:
        assert ours is None and ref is None, f"{path}: {type(ours).__name__} vs {type(ref).__name__}"
    elif isinstance(ref, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(ref), f"{path}: {len(ours)} vs {len(ref)}"
        for i, (o, r) in enumerate(zip(ours, ref)):
            compare(o, r, mask, f"{path}[{i}]")
    else:
        compare_tensors(ours, ref, mask, path=path)


def assert_weights_equal(ours, ref, atol=ATOL):
    ref_state, our_state = ref.state_dict(), ours.state_dict()
    assert set(our_state) == set(ref_state)
    for name, value in ref_state.items():
        diff = (our_state[name] - value).abs().max().item()
        assert diff <= atol, f"{name}: {diff:.3g}"


GLUE = {"bert": "BertForSequenceClassification", "roberta": "RobertaForSequenceClassification",
        "distilbert": "DistilBertForSequenceClassification", "xlnet": "XLNetForSequenceClassification",
        "xlm": "XLMForSequenceClassification"}


@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("family", list(GLUE))
def test_run_glue_fine_tuning_equals_1_2_0(family, dropout, tmp_path):
    folder, ref, ours = checkpoint(tmp_path, family, GLUE[family], dropout, num_labels=3)
    batches = [glue_inputs(family, seed) for seed in range(3)]
    ref_losses, our_losses = fine_tune(pt, ref, batches), fine_tune(tf, ours, batches)
    assert max(abs(a - b) for a, b in zip(our_losses, ref_losses)) <= LOSS_ATOL, (our_losses, ref_losses)
    assert_weights_equal(ours, ref)

    ref.eval()
    ours.eval()
    evaluation = glue_inputs(family, 7)  # run_glue's evaluate() passes the labels too: (loss, logits)
    with torch.no_grad():
        expected = ref(**evaluation)
        compare(ours(**evaluation), expected)
    ours.save_pretrained(str(tmp_path / "ours"))
    with torch.no_grad():
        compare(getattr(pt, GLUE[family]).from_pretrained(str(tmp_path / "ours"))(**evaluation), expected)
        compare(getattr(tf, GLUE[family]).from_pretrained(str(tmp_path / "ours"))(**evaluation), expected)


SQUAD = {"bert": "BertForQuestionAnswering", "distilbert": "DistilBertForQuestionAnswering",
         "xlnet": "XLNetForQuestionAnswering", "xlm": "XLMForQuestionAnswering"}


def squad_inputs(family, seed, train):
    ids, mask = padded_batch("bert", seed, seq=12)  # run_squad pads on the right for every model
    inputs = {"input_ids": ids, "attention_mask": mask}
    if family in ("bert", "xlnet"):
        inputs["token_type_ids"] = (torch.arange(12) >= 4).long().expand_as(ids) * mask
    if family in ("xlnet", "xlm"):
        cls_index = torch.tensor([11, 5, 2, 11])  # XLNet's <cls> is last; a padded row's last real token
        p_mask = 1.0 - mask.float()
        p_mask[:, :4] = 1.0  # the question
        p_mask[torch.arange(4), cls_index] = 0.0
        inputs.update(cls_index=cls_index, p_mask=p_mask)
        if train:
            inputs["is_impossible"] = torch.tensor([0.0, 1.0, 0.0, 1.0])
    if train:
        inputs.update(start_positions=torch.tensor([5, 5, 4, 10]), end_positions=torch.tensor([7, 5, 4, 11]))
    return inputs


@pytest.mark.parametrize("family", list(SQUAD))
def test_run_squad_training_and_eval_equal_1_2_0(family, tmp_path):
    _, ref, ours = checkpoint(tmp_path, family, SQUAD[family], num_labels=2)
    batch = squad_inputs(family, 0, train=True)
    outputs = []
    for model in (ref, ours):
        model.train()
        torch.manual_seed(5)
        out = model(**batch)
        out[0].backward()
        outputs.append(out)
    assert len(outputs[1]) == len(outputs[0])
    assert abs(outputs[1][0].item() - outputs[0][0].item()) <= LOSS_ATOL
    ref_grads = {n: p.grad for n, p in ref.named_parameters()}
    for name, p in ours.named_parameters():
        compare(p.grad, ref_grads[name], path=name)

    ref.eval()
    ours.eval()
    batch = squad_inputs(family, 3, train=False)
    with torch.no_grad():
        expected, got = ref(**batch), ours(**batch)
    # XLNet/XLM: start/end top-k log-probabilities and indexes and cls_logits; BERT/DistilBERT: start/end logits at
    # the real positions
    compare(tuple(got), tuple(expected), mask=None if family in ("xlnet", "xlm") else batch["attention_mask"])


def top_k_top_p(logits, top_k=0, top_p=0.0):
    """run_generation's filter of one row of logits (1.2.0): keep the top_k, then the smallest set of most
    probable tokens whose probability reaches top_p (the first always kept)."""
    logits = logits.clone()
    if top_k > 0:
        logits[logits < torch.topk(logits, top_k)[0][-1]] = -float("inf")
    if top_p > 0.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        over = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1) > top_p
        over[1:] = over[:-1].clone()
        over[0] = False
        logits[order[over]] = -float("inf")
    return logits


def sample_sequence(model, family, context, steps, carry=False, temperature=0.7, top_k=5, top_p=0.9):
    """run_generation's loop: (tokens, logits of each step). carry: feed back GPT-2's past / Transformer-XL's mems
    and only the new token (1.2.0's loop runs the whole sequence every step)."""
    generated, logits_seen, state = torch.tensor([context]), [], None
    with torch.no_grad():
        for _ in range(steps):
            inputs = {"input_ids": generated}
            if family == "xlnet":  # predict one token appended at the end, which no position may see
                ids = torch.cat((generated, torch.zeros((1, 1), dtype=torch.long)), dim=1)
                perm_mask = torch.zeros((1, ids.shape[1], ids.shape[1]))
                perm_mask[:, :, -1] = 1.0
                target_mapping = torch.zeros((1, 1, ids.shape[1]))
                target_mapping[0, 0, -1] = 1.0
                inputs = {"input_ids": ids, "perm_mask": perm_mask, "target_mapping": target_mapping}
            elif carry and state is not None:
                inputs = {"input_ids": generated[:, -1:], ("mems" if family == "transfo_xl" else "past"): state}
            outputs = model(**inputs)
            state = outputs[1] if carry else None
            logits = outputs[0][0, -1, :]
            logits_seen.append(logits)
            probs = F.softmax(top_k_top_p(logits / temperature, top_k, top_p), dim=-1)
            generated = torch.cat((generated, torch.multinomial(probs, num_samples=1)[None]), dim=1)
    return generated, logits_seen


GENERATION = {"gpt2": "GPT2LMHeadModel", "openai": "OpenAIGPTLMHeadModel", "xlnet": "XLNetLMHeadModel",
              "transfo_xl": "TransfoXLLMHeadModel"}


@pytest.mark.parametrize("family,carry", [("gpt2", False), ("gpt2", True), ("openai", False), ("xlnet", False),
                                          ("transfo_xl", False), ("transfo_xl", True)])
def test_run_generation_loop_equals_1_2_0(family, carry, tmp_path):
    _, ref, ours = checkpoint(tmp_path, family, GENERATION[family])
    ref.eval()
    context = list(range(5, 17))
    torch.manual_seed(42)
    expected_tokens, expected_logits = sample_sequence(ref, family, context, 6, carry)
    torch.manual_seed(42)
    tokens, logits = sample_sequence(ours, family, context, 6, carry)
    compare(logits, expected_logits)
    assert tokens.tolist() == expected_tokens.tolist()


LM = {"gpt2": ("GPT2LMHeadModel", "labels"), "openai": ("OpenAIGPTLMHeadModel", "labels"),
      "bert": ("BertForMaskedLM", "masked_lm_labels"), "roberta": ("RobertaForMaskedLM", "masked_lm_labels"),
      "distilbert": ("DistilBertForMaskedLM", "masked_lm_labels"), "xlm": ("XLMWithLMHeadModel", "labels"),
      "xlnet": ("XLNetLMHeadModel", "labels")}


def lm_inputs(family, label_name):
    """A run_lm_finetuning batch: masked LM with every other token masked (labels -1 elsewhere), causal LM labelled
    with the inputs; padded positions -1 (XLM: -100, its loss uses torch's default and takes flat labels)."""
    ids, mask = padded_batch(family, 3, batch=3)
    labels = ids.clone()
    if label_name == "masked_lm_labels":
        masked = torch.zeros_like(mask, dtype=torch.bool)
        masked[:, ::2] = True
        labels[~masked] = -1
        ids = ids.masked_fill(masked & (mask == 1), 4)
    ignore = -100 if family == "xlm" else -1
    labels[mask == 0] = ignore
    inputs = {"input_ids": ids, label_name: labels.view(-1) if family == "xlm" else labels}
    if family not in ("gpt2", "openai"):  # 1.2.0's GPT models take no attention_mask
        inputs["attention_mask"] = mask
    return inputs


@pytest.mark.parametrize("family", list(LM))
def test_run_lm_finetuning_losses_and_gradients_equal_1_2_0(family, tmp_path):
    class_name, label_name = LM[family]
    _, ref, ours = checkpoint(tmp_path, family, class_name)
    inputs = lm_inputs(family, label_name)
    losses = []
    for model in (ref, ours):
        model.train()
        torch.manual_seed(11)
        loss = model(**inputs)[0]
        loss.backward()
        losses.append(loss.item())
    assert abs(losses[1] - losses[0]) <= LOSS_ATOL
    ref_grads = {n: p.grad for n, p in ref.named_parameters()}
    for name, p in ours.named_parameters():
        compare(p.grad, ref_grads[name], path=name)


README = {"bert": "BertForMaskedLM", "gpt2": "GPT2LMHeadModel", "xlm": "XLMWithLMHeadModel",
          "distilbert": "DistilBertForMaskedLM"}
RESIZABLE = {"gpt2": lambda m: m.transformer.wte, "distilbert": lambda m: m.distilbert.embeddings.word_embeddings}


@pytest.mark.parametrize("family", list(README))
def test_readme_usage_equals_1_2_0(family, tmp_path):
    """from_pretrained(..., output_hidden_states=True, output_attentions=True) and its outputs as a tuple, head_mask,
    prune_heads and resize_token_embeddings (saved and loaded by both libraries), and a torchscript trace."""
    class_name = README[family]
    folder, _, _ = checkpoint(tmp_path, family, class_name)
    ids, mask = padded_batch(family, 1, batch=3, seq=8)
    kwargs = {} if family == "gpt2" else {"attention_mask": mask}
    positions = None if family == "gpt2" else mask

    def both(**options):
        with torch.no_grad():
            return (getattr(pt, class_name).from_pretrained(folder, **options).eval(),
                    getattr(tf, class_name).from_pretrained(folder, **options).eval())

    ref, ours = both(output_hidden_states=True, output_attentions=True)
    head_mask = torch.tensor([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.5, 1.0]])
    with torch.no_grad():
        all_hidden_states, all_attentions = ours(ids, **kwargs)[-2:]
        assert len(all_hidden_states) == 3 and len(all_attentions) == 2
        compare(tuple(ours(ids, **kwargs)), tuple(ref(ids, **kwargs)), positions)
        compare(tuple(ours(ids, head_mask=head_mask, **kwargs)), tuple(ref(ids, head_mask=head_mask, **kwargs)),
                positions)

    ref, ours = both()
    for model in (ref, ours):
        model.prune_heads({0: [1, 2], 1: [0]})
    if family in RESIZABLE:  # 1.2.0's BERT and XLM LM heads keep the old vocabulary size in their bias
        embeddings = []
        for model in (ref, ours):
            model.resize_token_embeddings(VOCAB + 3)
            embeddings.append(RESIZABLE[family](model).weight)
        with torch.no_grad():  # the new rows are random: give both the same
            embeddings[1][VOCAB:] = embeddings[0][VOCAB:]
            ids = ids.clone()
        ids[0, 1] = VOCAB + 1
    with torch.no_grad():
        expected = ref(ids, **kwargs)
        compare(tuple(ours(ids, **kwargs)), tuple(expected), positions)
        ours.save_pretrained(str(tmp_path / "changed"))
        for lib in (pt, tf):
            reloaded = getattr(lib, class_name).from_pretrained(str(tmp_path / "changed")).eval()
            compare(tuple(reloaded(ids, **kwargs)), tuple(expected), positions, path=lib.__name__)

    ref, ours = both(torchscript=True)
    ids = padded_batch(family, 2, batch=3, seq=8)[0]
    with torch.no_grad():
        traced = torch.jit.trace(ours, ids[:, :6])
        compare(tuple(traced(ids)), tuple(ref(ids)))


# (RoBERTa's special tokens are not in GPT-2's vocabulary files: 1.2.0 cannot decode them)
TOKENIZERS = ["BertTokenizer", "DistilBertTokenizer", "GPT2Tokenizer"]
TEXTS = ["Hello, world! How are you?", "  The quick brown fox  jumps.  ", "naïve café [SEP] don't", "a\tb\nc"]


def tokenizer_calls(tok, folder):
    """What a 1.2.0 user called: encode (pairs, special tokens), the add_special_tokens_* of 1.2.0, decode with its
    options, convert_*, add_tokens / add_special_tokens and their ids, save_pretrained and from_pretrained."""
    seen = {"len": len(tok), "vocab_size": tok.vocab_size, "max_len": tok.max_len,
            "special": (tok.all_special_tokens, tok.all_special_ids, tok.special_tokens_map),
            "max_len_single_sentence": tok.max_len_single_sentence,
            "max_len_sentences_pair": tok.max_len_sentences_pair}
    for text in TEXTS:
        ids = tok.encode(text)
        with_special = tok.encode(text, add_special_tokens=True)
        seen[text] = (tok.tokenize(text), ids, with_special, tok.encode(text, TEXTS[0]),
                      tok.encode(text, TEXTS[0], add_special_tokens=True),
                      tok.add_special_tokens_single_sentence(ids), tok.add_special_tokens_sentences_pair(ids, ids[:3]),
                      tok.decode(ids), tok.decode(with_special), tok.decode(with_special, skip_special_tokens=True),
                      tok.decode(ids, clean_up_tokenization_spaces=False),
                      tok.convert_tokens_to_string(tok.tokenize(text)), tok.convert_ids_to_tokens(ids),
                      tok.convert_ids_to_tokens(with_special, skip_special_tokens=True))
    seen["add_tokens"] = (tok.add_tokens(["newtok", "another one"]), len(tok), tok.encode("x newtok y another one z"))
    seen["add_special_tokens"] = (
        tok.add_special_tokens({"cls_token": "<CLS2>", "additional_special_tokens": ["<sp1>"]}), len(tok),
        tok.cls_token, tok.cls_token_id, tok.encode("a <sp1> b <CLS2>"), tok.decode(tok.encode("a <sp1> b newtok")),
        tok.decode(tok.encode("a <sp1> b"), skip_special_tokens=True))
    tok.save_pretrained(folder)
    return seen


@pytest.mark.parametrize("name", TOKENIZERS)
def test_tokenizer_methods_of_1_2_0(name, tmp_path):
    from tokenizer_corpus import bert_uncased_vocab, gpt2_files

    files = (bert_uncased_vocab(),) if "Bert" in name else gpt2_files()
    ref, ours = getattr(pt, name)(*files), getattr(tf, name)(*files)
    (tmp_path / "ref").mkdir()  # 1.2.0 saves only into an existing folder
    ref_folder, our_folder = str(tmp_path / "ref"), str(tmp_path / "ours")
    assert tokenizer_calls(ours, our_folder) == tokenizer_calls(ref, ref_folder)
    text = "a <sp1> b newtok hello <CLS2>"
    expected = ref.encode(text)
    for loaded in (getattr(pt, name).from_pretrained(our_folder), getattr(tf, name).from_pretrained(ref_folder),
                   getattr(tf, name).from_pretrained(our_folder)):
        assert (len(loaded), loaded.encode(text), loaded.cls_token) == (len(ref), expected, "<CLS2>")


INIT = {"bert": "BertForSequenceClassification", "distilbert": "DistilBertForSequenceClassification",
        "xlnet": "XLNetForSequenceClassification", "xlm": "XLMForSequenceClassification",
        "gpt2": "GPT2LMHeadModel", "openai": "OpenAIGPTLMHeadModel", "transfo_xl": "TransfoXLLMHeadModel"}


@pytest.mark.parametrize("family", list(INIT))
def test_init_weights_after_an_eval_forward_equals_1_2_0(family, tmp_path):
    """1.2.0's init_weights() (e.g. to start from random weights after loading, or a model.apply(model._init_weights))
    on a model that already ran in eval mode: the next outputs come from the new weights (the packed copies used to
    stay, as the writes went through .data, which the version counters do not see)."""
    # (a sinusoidal table that randomize_all perturbed: 1.2.0 keeps it, we rewrite the table)
    extra = {"sinusoidal_pos_embds": False} if family == "distilbert" else {}
    _, ref, ours = checkpoint(tmp_path, family, INIT[family], num_labels=3, **extra)
    ids, mask = padded_batch(family, 2)
    kwargs = {} if family in ("gpt2", "openai", "transfo_xl") else {"attention_mask": mask}
    ours.eval()
    ref.eval()
    with torch.no_grad():
        ours(ids, **kwargs)
        for model in (ref, ours):
            torch.manual_seed(3)
            model.init_weights()
        compare(ours(ids, **kwargs)[0], ref(ids, **kwargs)[0])
        torch.manual_seed(4)
        ours.apply(ours._init_weights)
        torch.manual_seed(4)
        ref.apply(ref._init_weights)
        compare(ours(ids, **kwargs)[0], ref(ids, **kwargs)[0])
