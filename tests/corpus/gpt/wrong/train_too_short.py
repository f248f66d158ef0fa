"""Bug: far too few training steps (150 instead of several hundred): the model sorts most
sequences but not 99% of them, so it earns partial credit."""

LOSES = {"train_sorter"}
HINT = "fresh sequences of the task"
SAMPLE = True  # the unit's sample wrong entry: graded in a Gradescope tree (its question is judged: the fast path test takes the first other one)


def train_sorter(steps=150, seed=0, length=6, digits=10):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    losses = []
    for step in range(steps):
        x, y = sort_batch(64, length=length, digits=digits)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
