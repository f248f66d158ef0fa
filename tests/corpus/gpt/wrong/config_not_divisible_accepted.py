"""Bug: GPTConfig never checks that n_heads divides d_model (the documented ValueError)."""

LOSES = {"GPT"}
HINT = "divisible"

from dataclasses import dataclass


@dataclass
class GPTConfig:
    vocab_size: int
    n_ctx: int
    d_model: int
    n_heads: int
    n_layers: int
    d_mlp: int = None
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        if self.d_mlp is None:
            self.d_mlp = 4 * self.d_model
