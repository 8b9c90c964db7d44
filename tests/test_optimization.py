"""AdamW and the warm-up schedules give 1.2.0's parameter trajectories and learning rates."""
from __future__ import annotations

import warnings

import pytest
import torch
import pytorch_transformers as pt

import transformers_fast as tf
from transformers_fast import optimization

SCHEDULES = [("ConstantLRSchedule", {}), ("WarmupConstantSchedule", dict(warmup_steps=4)),
             ("WarmupLinearSchedule", dict(warmup_steps=4, t_total=20)),
             ("WarmupCosineSchedule", dict(warmup_steps=3, t_total=20)),
             ("WarmupCosineSchedule", dict(warmup_steps=3, t_total=20, cycles=1.5)),
             ("WarmupCosineWithHardRestartsSchedule", dict(warmup_steps=2, t_total=20, cycles=3.0))]


def train(module, name, kwargs, schedule, steps=25):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    optimizer = module.AdamW(model.parameters(), lr=0.05, **kwargs)
    scheduler = getattr(module, schedule[0])(optimizer, **schedule[1])
    rates = []
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(8, 6, generator=g), torch.randn(8, 2, generator=g)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    return [p.detach().clone() for p in model.parameters()], rates


@pytest.mark.parametrize("kwargs", [{}, dict(weight_decay=0.01), dict(correct_bias=False, weight_decay=0.1),
                                    dict(betas=(0.8, 0.99), eps=1e-8)])
@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: f"{s[0]}{sorted(s[1].items())}")
def test_adamw_and_schedules_follow_1_2_0(kwargs, schedule):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 1.2.0's AdamW uses overloads current torch deprecates
        want, want_rates = train(pt, "AdamW", kwargs, schedule)
    got, got_rates = train(optimization, "AdamW", kwargs, schedule)
    assert got_rates == want_rates
    for a, b in zip(got, want):
        assert torch.equal(a, b)


def test_exported_as_1_2_0_and_bad_arguments():
    assert tf.AdamW is optimization.AdamW and tf.WarmupLinearSchedule is optimization.WarmupLinearSchedule
    params = [torch.nn.Parameter(torch.zeros(2))]
    for bad in (dict(lr=-1.0), dict(betas=(1.0, 0.9)), dict(betas=(0.9, -0.1)), dict(eps=-1e-8)):
        with pytest.raises(ValueError, match="Invalid"):
            tf.AdamW(params, **bad)
    sparse = torch.nn.Parameter(torch.zeros(3, 2))
    sparse.grad = torch.zeros(3, 2).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        tf.AdamW([sparse]).step()
    closure_calls = []
    p = torch.nn.Parameter(torch.ones(2))
    optimizer = tf.AdamW([p])

    def closure():
        closure_calls.append(1)
        loss = (p ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 2.0 and closure_calls == [1]


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16_mixed_precision"])
def test_transformers_trainer_trains_evaluates_and_predicts_as_with_its_own_model(tmp_path, bf16):
    """transformers' Trainer on our model and on transformers' own (same weights and data, dropout off): the same
    training loss, evaluation loss and predictions; save_model writes the weights, which load back with config=.
    With bf16 mixed precision accelerate autocasts the forward and rebuilds its output in fp32."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from modeling_helpers import hf_model, inputs, quiet_transformers

    quiet_transformers()
    ref = hf_model("bert", "BertForSequenceClassification", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    ref.save_pretrained(tmp_path / "start")
    ours = tf.BertForSequenceClassification.from_pretrained(tmp_path / "start")
    ids, mask, types = inputs("bert", batch=8, seq=9)
    labels = torch.arange(8) % 3

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(ids)

        def __getitem__(self, i):
            return {"input_ids": ids[i], "attention_mask": mask[i], "token_type_ids": types[i], "labels": labels[i]}

    results = []
    for model in (ref, ours):
        args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4,
                                              num_train_epochs=2, learning_rate=1e-3, save_strategy="no",
                                              report_to=[], use_cpu=True, seed=0, bf16=bf16)
        trainer = transformers.Trainer(model=model.train(), args=args, train_dataset=Rows(), eval_dataset=Rows())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = trainer.train().training_loss
            results.append((loss, trainer.evaluate()["eval_loss"], trainer.predict(Rows()).predictions))
    (ref_loss, ref_eval, ref_pred), (loss, eval_loss, pred) = results
    atol = 2e-2 if bf16 else 1e-4  # (bf16 rounding differs where our kernels fuse what transformers does in steps)
    assert abs(loss - ref_loss) < atol and abs(eval_loss - ref_eval) < atol
    assert abs(torch.as_tensor(pred) - torch.as_tensor(ref_pred)).max() < atol
    trainer.save_model(str(tmp_path / "saved"))
    again = tf.BertForSequenceClassification.from_pretrained(tmp_path / "saved", config=ours.config)
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), ours.state_dict().values()))
