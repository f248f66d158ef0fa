"""Bug: post-LN (the original Transformer's) instead of pre-LN: x = ln1(x + attn(x))."""

LOSES = {"GPT"}
HINT = "post-LayerNorm"


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1 = LayerNorm(config.d_model, config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln2 = LayerNorm(config.d_model, config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x):
        h = self.ln1(x + self.attn(x))
        return self.ln2(h + self.mlp(h))
