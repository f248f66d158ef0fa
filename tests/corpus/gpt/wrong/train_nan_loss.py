"""Bug: a learning rate of 1e3 with plain SGD: training diverges and the loss becomes NaN
(100 steps, so that the test stays fast)."""

LOSES = {"train_sorter"}
HINT = "training diverged"


def train_sorter(steps=100, seed=0, length=6, digits=10):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    opt = torch.optim.SGD(model.parameters(), lr=1e3)
    losses = []
    for step in range(steps):
        x, y = sort_batch(64, length=length, digits=digits)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
