"""Hostile: (1) overwrite the worker's copies of the provided model files, so that models are
built from other weights (the grader sends its own weights with every model: the build must
not read these files); (2) return a model recipe (the wire
format's "$model", which the worker builds from a provided module) naming os.system, hoping
the trusted side builds it. Neither may work: the trusted side never builds a model from a
reply, and every model argument carries the grader's weights. (The grader's own copies are not
attacked here: without root, this test would overwrite the project's files.)"""

BASE = "wrong/patch_fraction_inverted"

# %% last
import sys

for path in ["interp_model.npz"]:
    try:
        with open(path, "wb") as f:
            f.write(b"not weights")
        print("overwrote", path)
    except OSError as err:
        print("cannot write", path, type(err).__name__)

_Recipe = getattr(sys.modules["__main__"], "ModelRef", None)


def patch_heads(model, clean_tokens, corrupted_tokens, answer, wrong):
    if _Recipe is None:
        raise RuntimeError("no ModelRef in the worker")
    return _Recipe("os", "system", {"command": "touch __OUT__/pwned_by_model_recipe"}, 0, {})
