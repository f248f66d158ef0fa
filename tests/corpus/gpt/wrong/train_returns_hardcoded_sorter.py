"""Cheat: train_sorter returns an untrained model whose forward sorts by hand-written rules
(it predicts the smallest digit not yet written). The grader loads only the returned model's
weights into its own GPT, so the rules earn nothing: the weights sort nothing."""

LOSES = {"train_sorter"}
HINT = "sorts 0.0% of 2000 fresh sequences"


def train_sorter(steps=600, seed=0, length=6, digits=10):
    class Sorter(GPT):
        def forward(self, idx):
            b, t = idx.shape
            logits = torch.zeros(b, t, self.config.vocab_size)
            for i in range(b):
                ordered = sorted(idx[i, :length].tolist())
                for p in range(t):
                    written = p - length + 1
                    if 0 <= written < len(ordered):
                        logits[i, p, ordered[written]] = 10.0
            return logits

    torch.manual_seed(seed)
    return Sorter(GPTConfig(**sort_sizes(length, digits))), [0.0]
