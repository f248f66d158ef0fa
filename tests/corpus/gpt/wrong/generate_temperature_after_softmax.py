"""Bug: generate divides the probabilities by the temperature, softmax(logits) / temperature:
torch.multinomial renormalises them, so every temperature samples as temperature 1."""

LOSES = {"generate"}
HINT = "without the temperature"

import torch


def generate(model, idx, max_new_tokens, temperature=0.0, generator=None):
    out = idx
    with torch.no_grad():
        for _ in range(max_new_tokens):
            last = model(out[:, -model.config.n_ctx:])[:, -1]
            if temperature == 0:
                nxt = torch.argmax(last, dim=-1, keepdim=True)
            else:
                nxt = torch.multinomial(torch.softmax(last, -1) / temperature, 1, generator=generator)
            out = torch.cat((out, nxt), dim=1)
    return out
