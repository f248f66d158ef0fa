"""Bug: no residual connection around the attention: x = attn(ln1(x))."""

LOSES = {"GPT"}
HINT = "without the residual connection"


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1 = LayerNorm(config.d_model, config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln2 = LayerNorm(config.d_model, config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x):
        h = self.attn(self.ln1(x))
        return h + self.mlp(self.ln2(h))
