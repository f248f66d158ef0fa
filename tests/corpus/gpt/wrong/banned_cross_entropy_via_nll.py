"""Bug: cross_entropy through torch.nn.functional.nll_loss under another module's name
(torch._C._nn.nll_loss_nd): the ATen operator nll_loss_forward is the banned work."""

LOSES = {"cross_entropy"}
HINT = "aten.nll_loss_forward"

import torch


def cross_entropy(logits, targets, ignore_index=-100):
    shifted = logits - logits.amax(dim=-1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=-1, keepdim=True).log()
    return torch._C._nn.nll_loss_nd(log_probs.reshape(-1, logits.shape[-1]), targets.reshape(-1), None, 1,
                                    ignore_index)
