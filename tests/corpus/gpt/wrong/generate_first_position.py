"""Bug: generate picks the next token from the logits of the first position, not the last."""

LOSES = {"generate"}
HINT = "FIRST position"


def generate(model, idx, max_new_tokens, temperature=0.0, generator=None):
    out = idx
    with torch.no_grad():
        for _ in range(max_new_tokens):
            first = model(out[:, -model.config.n_ctx:])[:, 0]
            out = torch.cat((out, first.argmax(-1, keepdim=True)), dim=1)
    return out
