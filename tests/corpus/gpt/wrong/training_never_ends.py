"""Bug: the training loop never ends (`while True`), so it runs into the CPU-time budget."""

LOSES = {"train_sorter"}
CPU_SECONDS = 4  # a short budget: it uses it all
HINT = "must finish within"


def train_sorter(steps=600, seed=0, length=6, digits=10):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    while True:
        x, y = sort_batch(64, length=length, digits=digits)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
