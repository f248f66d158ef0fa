"""Bug: the positional embeddings are created but never added to the token embeddings."""

LOSES = {"GPT"}
HINT = "without positional embeddings"


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
        h = self.tok_emb(idx)
        for block in self.blocks:
            h = block(h)
        return self.lm_head(self.ln_f(h))
