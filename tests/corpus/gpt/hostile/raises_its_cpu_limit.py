"""Hostile: train_sorter raises its own soft CPU-time limit back to the hard limit (so the
worker's SIGXCPU never comes) and trains past the budget (300 steps, past the tests' 4 s budget); the grader measures the CPU time
itself and gives no credit."""

BASE = "correct/plain"

# %% functions
import resource


def train_sorter(steps=300, seed=0):
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    torch.manual_seed(seed)
    model = GPT(SORT_CONFIG)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for step in range(steps):
        x, y = sort_batch(64)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
