"""The adaptive softmax of Transformer-XL (pytorch-transformers 1.2.0's modeling_transfo_xl_utilities), in plain
torch: the reference path (training, labels, tracing). Parameter names are those of the checkpoints
(`crit.cluster_weight`, `crit.out_layers.<i>.weight`, `crit.out_projs.<i>`). The fused inference version of the
full log-probabilities lives in runtime/transfo_xl.py and reads these same parameters."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ProjectedAdaptiveLogSoftmax(nn.Module):
    """Adaptive softmax with projections: a head over the first `cutoffs[0]` tokens plus one logit per tail
    cluster, and per tail cluster a softmax over its tokens (embedding size d_embed // div_val ** i).

    forward(hidden [N, d_proj], labels [N] or None): the negative log-likelihood per row (grouped by cluster,
    as 1.2.0 does unless keep_order) or the log-probabilities [N, n_token]."""

    def __init__(self, n_token, d_embed, d_proj, cutoffs, div_val=1, keep_order=False):
        super().__init__()
        self.n_token = n_token
        self.d_embed = d_embed
        self.d_proj = d_proj
        self.cutoffs = list(cutoffs) + [n_token]
        self.cutoff_ends = [0] + self.cutoffs
        self.div_val = div_val
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        if self.n_clusters > 0:
            self.cluster_weight = nn.Parameter(torch.zeros(self.n_clusters, self.d_embed))
            self.cluster_bias = nn.Parameter(torch.zeros(self.n_clusters))
        self.out_layers = nn.ModuleList()
        self.out_projs = nn.ParameterList()
        if div_val == 1:
            for _ in range(len(self.cutoffs)):
                if d_proj != d_embed:
                    self.out_projs.append(nn.Parameter(torch.empty(d_proj, d_embed)))
                else:
                    self.out_projs.append(None)
            self.out_layers.append(nn.Linear(d_embed, n_token))
        else:
            for i in range(len(self.cutoffs)):
                l_idx, r_idx = self.cutoff_ends[i], self.cutoff_ends[i + 1]
                d_emb_i = d_embed // (div_val ** i)
                self.out_projs.append(nn.Parameter(torch.empty(d_proj, d_emb_i)))
                self.out_layers.append(nn.Linear(d_emb_i, r_idx - l_idx))
        self.keep_order = keep_order

    @staticmethod
    def _compute_logit(hidden, weight, bias, proj):
        if proj is None:
            return F.linear(hidden, weight, bias=bias)
        proj_hid = F.linear(hidden, proj.t().contiguous())
        return F.linear(proj_hid, weight, bias=bias)

    def quantize_head(self) -> int:
        """transformers_fast.quantize(model, "int8", lm_head=True): per cluster an int8 copy of its output layer (the
        head's with its cluster rows) and of its projection (`int8_clusters`, `int8_projs`; nn.Identity where there
        is none), which the logits use from then on; the float layers stay (the input embeddings share them).
        Returns how many layers it made."""
        from transformers_fast.ops import QuantizedLinear

        if getattr(self, "int8_clusters", None) is not None:
            return 0
        clusters = self.cluster_weights()
        self.int8_clusters = nn.ModuleList(QuantizedLinear.from_weight(w.detach(), b.detach()) for w, b, _ in clusters)
        self.int8_projs = nn.ModuleList(nn.Identity() if p is None else QuantizedLinear.from_weight(p.detach().t())
                                        for _, _, p in clusters)
        return len(clusters) + sum(p is not None for _, _, p in clusters)

    def _logit(self, i: int, hidden, weight, bias, proj):
        """Cluster i's logits: its int8 layers once quantize_head() made them, else the float ones."""
        if getattr(self, "int8_clusters", None) is not None:
            return self.int8_clusters[i](self.int8_projs[i](hidden))
        return self._compute_logit(hidden, weight, bias, proj)

    def cluster_weights(self):
        """Per cluster (weight, bias, projection); the head's weight and bias end with the cluster rows."""
        weights, biases = [], []
        for i in range(len(self.cutoffs)):
            if self.div_val == 1:
                l_idx, r_idx = self.cutoff_ends[i], self.cutoff_ends[i + 1]
                weight_i = self.out_layers[0].weight[l_idx:r_idx]
                bias_i = self.out_layers[0].bias[l_idx:r_idx]
            else:
                weight_i = self.out_layers[i].weight
                bias_i = self.out_layers[i].bias
            if i == 0 and self.n_clusters > 0:
                weight_i = torch.cat([weight_i, self.cluster_weight], dim=0)
                bias_i = torch.cat([bias_i, self.cluster_bias], dim=0)
            weights.append(weight_i)
            biases.append(bias_i)
        return [(w, b, self.out_projs[i]) for i, (w, b) in enumerate(zip(weights, biases))]

    def forward(self, hidden, labels=None, keep_order=False):
        if labels is not None:
            labels = labels.reshape(-1)
            if hidden.size(0) != labels.size(0):
                raise RuntimeError("Input and labels should have the same size in the batch dimension.")
        if self.n_clusters == 0:
            logit = self._logit(0, hidden, self.out_layers[0].weight, self.out_layers[0].bias, self.out_projs[0])
            if labels is not None:  # -100 and -1 score 0, as a label outside every cluster does below
                nll = -F.log_softmax(logit, dim=-1).gather(1, labels.clamp(min=0).unsqueeze(1)).squeeze(1)
                return nll.masked_fill(labels < 0, 0.0)
            return F.log_softmax(logit, dim=-1)
        clusters = self.cluster_weights()
        head_weight, head_bias, head_proj = clusters[0]
        head_logit = self._logit(0, hidden, head_weight, head_bias, head_proj)
        head_logprob = F.log_softmax(head_logit, dim=1)
        if labels is None:
            out = hidden.new_empty((head_logit.size(0), self.n_token))
        else:
            out = torch.zeros_like(labels, dtype=hidden.dtype, device=hidden.device)
        offset = 0
        cutoff_values = [0] + self.cutoffs
        for i in range(len(cutoff_values) - 1):
            l_idx, r_idx = cutoff_values[i], cutoff_values[i + 1]
            if labels is not None:
                indices_i = ((labels >= l_idx) & (labels < r_idx)).nonzero().reshape(-1)
                if indices_i.numel() == 0:
                    continue
                target_i = labels.index_select(0, indices_i) - l_idx
                head_logprob_i = head_logprob.index_select(0, indices_i)
                hidden_i = hidden.index_select(0, indices_i)
            else:
                hidden_i = hidden
            if i == 0:
                if labels is not None:
                    logprob_i = head_logprob_i.gather(1, target_i[:, None]).squeeze(1)
                else:
                    out[:, :self.cutoffs[0]] = head_logprob[:, :self.cutoffs[0]]
            else:
                weight_i, bias_i, proj_i = clusters[i]
                tail_logprob_i = F.log_softmax(self._logit(i, hidden_i, weight_i, bias_i, proj_i), dim=1)
                cluster_prob_idx = self.cutoffs[0] + i - 1  # no probability for the head cluster
                if labels is not None:
                    logprob_i = head_logprob_i[:, cluster_prob_idx] + tail_logprob_i.gather(1, target_i[:, None]).squeeze(1)
                else:
                    out[:, l_idx:r_idx] = head_logprob[:, cluster_prob_idx, None] + tail_logprob_i
            if labels is not None:
                if self.keep_order or keep_order:
                    out.index_copy_(0, indices_i, -logprob_i)
                else:
                    out[offset:offset + logprob_i.size(0)].copy_(-logprob_i)
                offset += logprob_i.size(0)
        return out

    def log_prob(self, hidden):
        """Log-probabilities [N, n_token] of every token (1.2.0's method fails on clustered vocabularies: this
        one returns what forward(hidden) returns)."""
        return self.forward(hidden)


class LogUniformSampler:
    """Samples negative classes with P(class) = (log(class + 2) - log(class + 1)) / log(range_max + 1)."""

    def __init__(self, range_max, n_sample):
        with torch.no_grad():
            self.range_max = range_max
            log_indices = torch.arange(1., range_max + 2., 1.).log_()
            self.dist = (log_indices[1:] - log_indices[:-1]) / log_indices[-1]
            self.log_q = (- (-self.dist.double().log1p_() * 2 * n_sample).expm1_()).log_().float()
        self.n_sample = n_sample

    def sample(self, labels):
        """labels [b1, b2] -> true_log_probs [b1, b2], samp_log_probs [n], neg_samples [n]."""
        n_tries = 2 * self.n_sample
        with torch.no_grad():
            neg_samples = torch.multinomial(self.dist, n_tries, replacement=True).unique()
            device = labels.device
            neg_samples = neg_samples.to(device)
            true_log_probs = self.log_q[labels].to(device)
            samp_log_probs = self.log_q[neg_samples].to(device)
            return true_log_probs, samp_log_probs, neg_samples


def sample_logits(embedding, bias, labels, inputs, sampler):
    """Sampled-softmax logits [b1, b2, 1 + n_sample]: the true class first, then the sampled negatives
    (a negative equal to the label gets -1e30). embedding: an nn.Embedding; bias [n_vocab]; labels [b1, b2];
    inputs [b1, b2, n_emb]."""
    true_log_probs, samp_log_probs, neg_samples = sampler.sample(labels)
    n_sample = neg_samples.size(0)
    b1, b2 = labels.size(0), labels.size(1)
    all_ids = torch.cat([labels.view(-1), neg_samples])
    all_w = embedding(all_ids)
    true_w = all_w[:-n_sample].view(b1, b2, -1)
    sample_w = all_w[-n_sample:].view(n_sample, -1)
    all_b = bias[all_ids]
    true_b = all_b[:-n_sample].view(b1, b2)
    sample_b = all_b[-n_sample:]
    hit = (labels[:, :, None] == neg_samples).detach()
    true_logits = torch.einsum("ijk,ijk->ij", [true_w, inputs]) + true_b - true_log_probs
    sample_logits = torch.einsum("lk,ijk->ijl", [sample_w, inputs]) + sample_b - samp_log_probs
    sample_logits.masked_fill_(hit, -1e30)
    return torch.cat([true_logits[:, :, None], sample_logits], -1)
