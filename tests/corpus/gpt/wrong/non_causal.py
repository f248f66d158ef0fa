"""Bug: the attention has no causal mask: every position sees the future. (Greedy generation
still matches: the last position may see everything anyway, and the changed earlier positions
do not move its argmax on the graded inputs.)"""

LOSES = {"GPT"}
HINT = "without the causal mask"


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config.d_model
        self.n_heads = config.n_heads
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.o_proj = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        q, k, v = (p(x).unflatten(-1, (self.n_heads, -1)).transpose(-3, -2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        weights = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1)
        return self.o_proj((weights @ v).transpose(-3, -2).flatten(-2))
