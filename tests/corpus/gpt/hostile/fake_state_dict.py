"""Hostile: train_sorter returns an nn.Module whose state_dict() is not tensors (strings, a
tensor subclass, a huge shape claim) instead of a trained GPT: the grader reads plain data
only and gives no credit, with a message."""

BASE = "correct/plain"
ATTACKS = {"train_sorter"}

# %% functions
class _Fake(torch.nn.Module):
    def state_dict(self, *args, **kwargs):
        return {"tok_emb.weight": "all sorted, trust me", "lm_head.weight": torch.nn.Parameter(torch.zeros(2))}


def train_sorter(steps=600, seed=0, length=6, digits=10):
    return _Fake(), [0.0]
