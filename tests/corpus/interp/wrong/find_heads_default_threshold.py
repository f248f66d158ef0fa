"""Bug: the heads are compared with 0.4, the default threshold, whatever `threshold` says."""

LOSES = {"find_induction_heads"}
HINT = "the `threshold` argument"


def find_induction_heads(model, tokens, seg_len, threshold=0.4):
    return induction_scores(attention_patterns(model, tokens), seg_len) > 0.4
