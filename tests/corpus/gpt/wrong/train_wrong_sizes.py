"""Bug: the trained model is not SORT_CONFIG's (d_model 24 instead of 48), so its weights do
not fit the grader's model (20 steps, so that the test stays fast)."""

LOSES = {"train_sorter"}
HINT = "does not fit GPT(GPTConfig(**sort_sizes("


def train_sorter(steps=20, seed=0, length=6, digits=10):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**dict(sort_sizes(length, digits), d_model=24)))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for step in range(steps):
        x, y = sort_batch(64, length=length, digits=digits)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
