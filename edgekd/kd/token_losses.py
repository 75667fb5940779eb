"""Token-level distillation losses for language models, from a top-k teacher cache.

The cache keeps, per token, the teacher's k most likely next tokens (log-probabilities at T = 1) and
the probability mass r left over. Both distributions are compared on the same k + 1 bins: the k
cached ids, and one tail bucket holding everything else (the teacher's r, the student's 1 − Σ q_i).
Coarsening can only lower a divergence, so each loss below is a lower bound on its full-vocabulary
value that is exact when r = 0. Unlike spreading r evenly over the other 49k ids, it invents no
teacher probabilities for tokens it never cached.

Every divergence is mixed with next-token cross-entropy on the real text:

    L = α · D(p_teacher, q_student) + (1 − α) · CE(q_student, next token)

with D one of
- `forward`: KL(p ‖ q) = Σ p log p/q (Hinton et al. 2015; DistillKit's token-level KD). Mass-covering.
- `reverse`: KL(q ‖ p) = Σ q log q/p (MiniLLM, Gu et al., ICLR 2024). Mode-seeking: the student
  is not pushed to spread mass over tokens the teacher finds barely plausible.
- `jsd`: the generalised Jensen-Shannon divergence of GKD (Agarwal et al., ICLR 2024),
  JSD_β = β · KL(p ‖ m) + (1 − β) · KL(q ‖ m), m = β p + (1 − β) q. For small β it is about
  β · KL(p ‖ q), near β = 1 about (1 − β) · KL(q ‖ p); β = 0.5 is the symmetric JSD.
Means are over tokens (every position of every chunk predicts a real next token).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DIVERGENCES = ("forward", "reverse", "jsd")
_TINY = 1e-8


def teacher_bins(topk_log_probs: torch.Tensor, rest_mass: torch.Tensor) -> torch.Tensor:
    """log p over k + 1 bins [tokens, k + 1]: the cached ids, then the tail bucket."""
    tail = rest_mass.float().clamp_min(_TINY).log().unsqueeze(-1)
    bins = torch.cat([topk_log_probs.float(), tail], dim=-1)
    return bins - bins.logsumexp(dim=-1, keepdim=True)  # fp16 rounding: renormalise to exactly 1


def student_bins(logits: torch.Tensor, topk_ids: torch.Tensor) -> torch.Tensor:
    """log q over the same bins: log-softmax at the cached ids, and log(1 − Σ q_i) for the tail."""
    log_q = F.log_softmax(logits.float(), dim=-1)
    picked = log_q.gather(-1, topk_ids.long())
    tail = torch.log1p(-picked.exp().sum(dim=-1).clamp(max=1 - 1e-6)).unsqueeze(-1)
    return torch.cat([picked, tail], dim=-1)


def _kl(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """KL(a ‖ b) per token over the last axis."""
    return (log_a.exp() * (log_a - log_b)).sum(dim=-1)


def divergence(log_p: torch.Tensor, log_q: torch.Tensor, kind: str, beta: float = 0.5) -> torch.Tensor:
    """Mean over tokens of D(p, q); `log_p`, `log_q` are [tokens, bins]."""
    if kind == "forward":
        per_token = _kl(log_p, log_q)
    elif kind == "reverse":
        per_token = _kl(log_q, log_p)
    elif kind == "jsd":
        if not 0.0 < beta < 1.0:
            raise ValueError(f"GKD's beta must be strictly between 0 and 1, not {beta}")
        log_m = torch.logaddexp(log_p + torch.log(torch.tensor(beta)), log_q + torch.log(torch.tensor(1 - beta)))
        per_token = beta * _kl(log_p, log_m) + (1 - beta) * _kl(log_q, log_m)
    else:
        raise ValueError(f"unknown divergence {kind!r}; expected one of {', '.join(DIVERGENCES)}")
    return per_token.mean()


def token_kd_loss(student_logits: torch.Tensor, topk_log_probs: torch.Tensor, topk_ids: torch.Tensor,
                  rest_mass: torch.Tensor, next_tokens: torch.Tensor, alpha: float, kind: str = "forward",
                  beta: float = 0.5) -> torch.Tensor:
    """α · D + (1 − α) · CE over every token; logits [batch, length, vocab], cache rows [batch, length, k]."""
    vocab = student_logits.shape[-1]
    logits = student_logits.reshape(-1, vocab)
    ce = F.cross_entropy(logits.float(), next_tokens.reshape(-1).long())
    if alpha == 0.0:
        return ce
    k = topk_ids.shape[-1]
    log_p = teacher_bins(topk_log_probs.reshape(-1, k), rest_mass.reshape(-1))
    log_q = student_bins(logits, topk_ids.reshape(-1, k))
    return alpha * divergence(log_p, log_q, kind, beta) + (1.0 - alpha) * ce


def next_token_ce(student_logits: torch.Tensor, next_tokens: torch.Tensor) -> torch.Tensor:
    """Plain language-model cross-entropy (the CE-only baseline), mean over tokens."""
    return F.cross_entropy(student_logits.reshape(-1, student_logits.shape[-1]).float(),
                           next_tokens.reshape(-1).long())
