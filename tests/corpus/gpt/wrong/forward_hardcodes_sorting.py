"""Bug (or cheat): GPT.forward sorts by hand-written rules (it predicts the smallest digit not
yet written), and train_sorter returns that untrained model. Its own logits are wrong for the
contract, and its weights sort nothing once loaded into the grader's GPT."""

LOSES = {"GPT", "generate", "train_sorter"}


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.n_ctx, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = LayerNorm(config.d_model, config.layer_norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)

    def forward(self, idx):
        if idx.shape[1] > self.config.n_ctx:
            raise ValueError("input longer than n_ctx")
        b, t = idx.shape
        logits = torch.zeros(b, t, self.config.vocab_size)
        for i in range(b):
            digits = sorted(idx[i, :SORT_LENGTH].tolist())
            for p in range(t):
                written = p - SORT_LENGTH + 1
                if 0 <= written < len(digits):
                    logits[i, p, digits[written]] = 10.0
        return logits


def train_sorter(steps=600, seed=0, length=6, digits=10):
    return GPT(GPTConfig(**sort_sizes(length, digits))), [0.0]
