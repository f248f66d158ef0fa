"""Hostile: train_sorter raises its own soft CPU-time limit back to the hard limit (so the
worker's SIGXCPU never comes) and trains past the budget (6 s of CPU time, past the tests' 4 s budget); the grader measures the CPU time
itself and gives no credit."""

BASE = "correct/plain"
ATTACKS = {"train_sorter"}
CPU_SECONDS = 4  # a short budget: the attack uses it all

# %% functions
import resource


def train_sorter(steps=600, seed=0, length=6, digits=10):
    import time

    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    start = time.process_time()
    while time.process_time() < start + 6:  # past the tests' 4 s budget, on any machine
        x, y = sort_batch(64, length=length, digits=digits)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
