"""Bug: attention scores divided by sqrt(d_model) instead of sqrt(d_head)."""

LOSES = {"GPT"}
HINT = "divided by sqrt(d_model)"


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config.d_model
        self.n_heads = config.n_heads
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.o_proj = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        t, d = x.shape[-2:]
        q, k, v = (p(x).unflatten(-1, (self.n_heads, -1)).transpose(-3, -2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        weights = (q @ k.transpose(-1, -2) / math.sqrt(d)).masked_fill(future, -math.inf).softmax(-1)
        return self.o_proj((weights @ v).transpose(-3, -2).flatten(-2))
