"""1.2.0's optimiser and learning-rate schedules: AdamW (Adam with decoupled weight decay, optional bias
correction, as Google's BERT trained) and the warm-up schedules, on torch.optim's machinery."""
from __future__ import annotations

import logging
import math

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

logger = logging.getLogger(__name__)


def _warmup(step, warmup_steps):
    return float(step) / float(max(1.0, warmup_steps))


def _progress(step, warmup_steps, t_total):
    """The fraction of the steps after warm-up done so far (1.2.0's cosine schedules)."""
    return float(step - warmup_steps) / float(max(1, t_total - warmup_steps))


class ConstantLRSchedule(LambdaLR):
    """Constant learning rate."""

    def __init__(self, optimizer, last_epoch=-1):
        super().__init__(optimizer, lambda _: 1.0, last_epoch=last_epoch)


class WarmupConstantSchedule(LambdaLR):
    """From 0 to 1 linearly over warmup_steps, then 1."""

    def __init__(self, optimizer, warmup_steps, last_epoch=-1):
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, self.lr_lambda, last_epoch=last_epoch)

    def lr_lambda(self, step):
        return _warmup(step, self.warmup_steps) if step < self.warmup_steps else 1.0


class WarmupLinearSchedule(LambdaLR):
    """From 0 to 1 linearly over warmup_steps, then linearly down to 0 at t_total."""

    def __init__(self, optimizer, warmup_steps, t_total, last_epoch=-1):
        self.warmup_steps = warmup_steps
        self.t_total = t_total
        super().__init__(optimizer, self.lr_lambda, last_epoch=last_epoch)

    def lr_lambda(self, step):
        if step < self.warmup_steps:
            return _warmup(step, self.warmup_steps)
        return max(0.0, float(self.t_total - step) / float(max(1.0, self.t_total - self.warmup_steps)))


class WarmupCosineSchedule(LambdaLR):
    """From 0 to 1 linearly over warmup_steps, then `cycles` periods of a cosine (default half: down to 0)."""

    def __init__(self, optimizer, warmup_steps, t_total, cycles=0.5, last_epoch=-1):
        self.warmup_steps = warmup_steps
        self.t_total = t_total
        self.cycles = cycles
        super().__init__(optimizer, self.lr_lambda, last_epoch=last_epoch)

    def lr_lambda(self, step):
        if step < self.warmup_steps:
            return _warmup(step, self.warmup_steps)
        progress = _progress(step, self.warmup_steps, self.t_total)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(self.cycles) * 2.0 * progress)))


class WarmupCosineWithHardRestartsSchedule(LambdaLR):
    """From 0 to 1 linearly over warmup_steps, then `cycles` cosine decays from 1 to 0, each restarting at 1."""

    def __init__(self, optimizer, warmup_steps, t_total, cycles=1.0, last_epoch=-1):
        self.warmup_steps = warmup_steps
        self.t_total = t_total
        self.cycles = cycles
        super().__init__(optimizer, self.lr_lambda, last_epoch=last_epoch)

    def lr_lambda(self, step):
        if step < self.warmup_steps:
            return _warmup(step, self.warmup_steps)
        progress = _progress(step, self.warmup_steps, self.t_total)
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(self.cycles) * progress) % 1.0))))


class AdamW(Optimizer):
    """Adam with weight decay applied to the weights after the update (not through the gradient), as 1.2.0.

    lr (1e-3), betas ((0.9, 0.999)), eps (1e-6, added to the square root of the second moment), weight_decay
    (0.0), correct_bias (True; False as in Google's BERT, which does not correct the moments' bias).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, correct_bias=True):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr} - should be >= 0.0")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter: {betas[0]} - should be in [0.0, 1.0[")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter: {betas[1]} - should be in [0.0, 1.0[")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps} - should be >= 0.0")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      correct_bias=correct_bias))

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter with a gradient; returns closure()'s loss when given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.is_sparse:
                    raise RuntimeError("Adam does not support sparse gradients, please consider SparseAdam instead")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)  # moving average of the gradient
                    state["exp_avg_sq"] = torch.zeros_like(p)  # and of its square
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                denom = exp_avg_sq.sqrt().add_(group["eps"])
                step_size = group["lr"]
                if group["correct_bias"]:
                    step_size = step_size * math.sqrt(1.0 - beta2 ** state["step"]) / (1.0 - beta1 ** state["step"])
                p.addcdiv_(exp_avg, denom, value=-step_size)
                # Decoupled weight decay: shrinking the weights directly, which adding |w|^2 to the loss would
                # not do with Adam (it would pass through the moment estimates).
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])
        return loss
