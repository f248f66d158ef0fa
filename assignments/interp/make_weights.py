"""Train the interp unit's model and write interp_model.npz (instructors only).

    .venv/bin/python assignments/interp/make_weights.py [--steps N] [--out PATH]

Trains interp_model.AttnOnlyTransformer(**TRAINED_CONFIG) on sequences made of a random
segment repeated until the context is full (segment lengths vary per batch), with the
next-token loss on every position. The first occurrence of a segment is unpredictable; every
later token can be copied from the token after its previous occurrence, which is what a
previous-token head in layer 0 composed with an induction head in layer 1 does. Deterministic:
one CPU thread, fixed seeds, no data loading. About a minute of CPU time.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from interp_model import TRAINED_CONFIG, WEIGHTS, AttnOnlyTransformer  # noqa: E402

SEQ_LEN = 48
BATCH = 64


def batch_of_repeats(generator, d_vocab, seq_len=SEQ_LEN, batch=BATCH):
    """[batch, seq_len]: a random segment of a random length in [4, seq_len // 2], repeated."""
    seg_len = int(torch.randint(4, seq_len // 2 + 1, (), generator=generator))
    segment = torch.randint(0, d_vocab, (batch, seg_len), generator=generator)
    return segment.repeat(1, seq_len // seg_len + 1)[:, :seq_len]


def train(steps, seed=0):
    torch.manual_seed(seed)
    model = AttnOnlyTransformer(**TRAINED_CONFIG)
    generator = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    for step in range(steps):
        tokens = batch_of_repeats(generator, model.d_vocab)
        logits = model(tokens)[:, :-1]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, model.d_vocab), tokens[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 250 == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {loss.item():.3f}", flush=True)
    return model.eval()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1500, help="optimizer steps (default 1500)")
    parser.add_argument("--out", type=Path, default=WEIGHTS, help=f"weights file (default {WEIGHTS.name})")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    start = time.process_time()
    model = train(args.steps)
    arrays = {name: value.detach().numpy() for name, value in model.state_dict().items()}
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB) in {time.process_time() - start:.1f} s of CPU time")


if __name__ == "__main__":
    main()
