"""Hostile: train_sorter trains in a forked child (6 s of CPU time, past the tests' 4 s
budget) while the worker itself only waits for the weights on a pipe, so the worker's own CPU
time stays near 0 (75 CPU-s used and 0.3 s counted, before). The grader counts the CPU of
every process of the worker and stops it at the budget: no credit."""

BASE = "correct/plain"
ATTACKS = {"train_sorter"}
CPU_SECONDS = 4  # a short budget: the attack uses it all

# %% functions
import io
import os


def train_sorter(steps=600, seed=0, length=6, digits=10):
    import time

    read, write = os.pipe()
    if os.fork() == 0:  # the child trains
        torch.manual_seed(seed)
        model = GPT(GPTConfig(**sort_sizes(length, digits)))
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        start = time.process_time()
        while time.process_time() < start + 6:
            x, y = sort_batch(64, length=length, digits=digits)
            loss = cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        os.write(write, buffer.getvalue())
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 1 << 20):
        data += chunk
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    model.load_state_dict(torch.load(io.BytesIO(data)))
    return model, [0.0]
