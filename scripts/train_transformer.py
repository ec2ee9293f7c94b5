"""Train the course's character transformer and write ``qlearn/data/transformer_chars.npz``.

Run from the repository root (1066 s for the shipped file on the 2-core machine the course was written on,
shared with other jobs at the time)::

    .venv/bin/python scripts/train_transformer.py            # writes the shipped file
    .venv/bin/python scripts/train_transformer.py --out /tmp/t.npz --steps 50   # a quick try

Seeded: ``qlearn.modern.transformer.train(**PRETRAINED_CONFIG, **PRETRAINED_TRAINING)``. Training uses
the float BLAS, so another machine's weights differ in their last bits. The script runs BLAS on
one thread (``OPENBLAS_NUM_THREADS=1`` unless already set): on a shared 2-core machine that was
2-3x faster per step than two threads, and the thread count is part of the summation order.

After training it evaluates the saved float32 weights on ``validation_tokens()`` (the fixed-order
path every machine agrees on) and records in the npz metadata: parameter count, training seconds,
validation cross-entropy, perplexity and top-1 accuracy, and the perplexity with every linear
layer's weights rounded to nearest per output channel (symmetric, ``qlearn.modern.block_formats.group_quantize``
with one group per row) at 8, 6, 4 and 3 bits.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qlearn.modern import block_formats  # noqa: E402
from qlearn.modern import transformer as tr  # noqa: E402


def rtn_per_channel(model, bits):
    """``model`` with every linear weight rounded to nearest, symmetric, one scale per output row."""
    new = {}
    for name in model.linear_names():
        W = model.weight(name)
        new[name] = block_formats.group_quantize(W, bits=bits, group_size=W.shape[1], symmetric=True).dequantize()
    return model.with_weights(new)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(tr.PRETRAINED_FILE))
    ap.add_argument("--steps", type=int, default=tr.PRETRAINED_TRAINING["steps"])
    ap.add_argument("--seed", type=int, default=tr.PRETRAINED_TRAINING["seed"])
    args = ap.parse_args(argv)
    training = dict(tr.PRETRAINED_TRAINING, steps=args.steps, seed=args.seed)
    t0 = time.perf_counter()
    losses = []

    def progress(step, loss):
        losses.append(loss)
        if step % 100 == 0 or step == training["steps"]:
            avg = sum(losses[-100:]) / len(losses[-100:])
            print(f"step {step:5d}  train loss (last 100) {avg:.4f}  {time.perf_counter() - t0:7.1f} s", flush=True)

    model = tr.train(**tr.PRETRAINED_CONFIG, **training, callback=progress)
    seconds = time.perf_counter() - t0
    meta = dict(config=tr.PRETRAINED_CONFIG, training=training, train_seconds=round(seconds, 1),
                n_parameters=model.n_parameters(), blas_threads=os.environ.get("OPENBLAS_NUM_THREADS"))
    tr.save(model, args.out, **meta)
    loaded = tr.load(args.out)  # evaluate the float32 values that are shipped
    val = tr.validation_tokens(context=loaded.context)
    meta["validation"] = dict(windows=int(val.shape[0]), characters=int(val.shape[0] * (val.shape[1] - 1)),
                              cross_entropy=loaded.cross_entropy(val), perplexity=loaded.perplexity(val),
                              accuracy=loaded.accuracy(val))
    meta["rtn_per_channel_perplexity"] = {str(b): rtn_per_channel(loaded, b).perplexity(val) for b in (8, 6, 4, 3)}
    tr.save(model, args.out, **meta)
    print(meta)
    print(tr.generate("ROMEO.\n", 200, seed=0, model=tr.load(args.out)))


if __name__ == "__main__":
    main()
