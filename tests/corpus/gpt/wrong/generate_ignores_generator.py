"""Bug: generate samples with torch.multinomial but without the `generator` it was given, so
its samples do not follow the caller's seed."""

LOSES = {"generate"}
HINT = "generator"

import torch


def generate(model, idx, max_new_tokens, temperature=0.0, generator=None):
    out = idx
    with torch.no_grad():
        for _ in range(max_new_tokens):
            last = model(out[:, -model.config.n_ctx:])[:, -1]
            if temperature == 0:
                nxt = torch.argmax(last, dim=-1, keepdim=True)
            else:
                nxt = torch.multinomial(torch.softmax(last / temperature, -1), 1)
            out = torch.cat((out, nxt), dim=1)
    return out
