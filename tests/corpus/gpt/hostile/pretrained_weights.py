"""Hostile: train_sorter trains nothing and returns weights prepared in advance for the
default task (length 6, 10 digits), ignoring the task it is given (graded in 0.5 s, before).
The grader draws the task from a hidden seed and the submission's code: for this notebook it
is another task (tests/test_containment.py checks which), so the weights do not fit it.
(Here the prepared weights are a seeded untrained model, standing for trained ones: a
trained model is 240 KB of numbers; what is judged first is which task they are for.)"""

BASE = "correct/plain"
ATTACKS = {"train_sorter"}

# %% functions


def train_sorter(steps=600, seed=0, length=6, digits=10):
    torch.manual_seed(1234)  # "the weights pasted into the notebook"
    return GPT(GPTConfig(**sort_sizes(6, 10))), [0.01] * steps
