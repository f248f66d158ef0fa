"""Bug: the training loop never ends (`while True`), so it runs into the CPU-time budget."""

LOSES = {"train_sorter"}
HINT = "must finish within"


def train_sorter(steps=600, seed=0):
    torch.manual_seed(seed)
    model = GPT(SORT_CONFIG)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    while True:
        x, y = sort_batch(64)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
