"""Bug: lm_head's weight tied to the token embedding (GPT-2 does it; this contract does not)."""

LOSES = {"GPT"}
HINT = "tied to tok_emb"


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.n_ctx, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = LayerNorm(config.d_model, config.layer_norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx):
        if idx.shape[1] > self.config.n_ctx:
            raise ValueError("input longer than n_ctx")
        h = self.tok_emb(idx) + self.pos_emb.weight[: idx.shape[1]]
        for block in self.blocks:
            h = block(h)
        return self.lm_head(self.ln_f(h))
