"""Bug: generate feeds the whole sequence, never cropped to n_ctx (the model then refuses it)."""

LOSES = {"generate"}
HINT = "idx[:, -n_ctx:]"


def generate(model, idx, max_new_tokens, temperature=0.0, generator=None):
    out = idx
    with torch.no_grad():
        for _ in range(max_new_tokens):
            last = model(out)[:, -1]
            nxt = torch.argmax(last, dim=-1, keepdim=True)
            out = torch.cat((out, nxt), dim=1)
    return out
