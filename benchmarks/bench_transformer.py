"""Lesson 18's character transformer: validation figures of the shipped weights, and how long things take.

Run: .venv/bin/python benchmarks/bench_transformer.py

Prints the shipped model's size, its validation perplexity/accuracy (fixed-order evaluation: the same
on every CPU up to an ulp of exp/log), the perplexity with every linear weight rounded to nearest per
output channel at 8, 6, 4, 3 and 2 bits (symmetric, qlearn.modern.block_formats.group_quantize, one group
per row), the activation outlier statistics of each linear layer's input, and the median time of:
one evaluation of the validation slice (VALIDATION_WINDOWS windows; the lesson wants < ~2 s), one
BLAS training step at the shipped batch size, and generating 100 characters.
"""
from __future__ import annotations

from _common import median_ms, table, timeit

from qlearn.modern import block_formats
from qlearn.modern import transformer as tr


def rtn(model, bits):
    new = {}
    for name in model.linear_names():
        W = model.weight(name)
        new[name] = block_formats.group_quantize(W, bits=bits, group_size=W.shape[1], symmetric=True).dequantize()
    return model.with_weights(new)


def main():
    m = tr.pretrained()
    v = tr.validation_tokens(context=m.context)
    print(m)
    print(f"validation: {v.shape[0] * (v.shape[1] - 1)} characters, perplexity {m.perplexity(v):.4f}, "
          f"top-1 accuracy {m.accuracy(v):.4f}")
    rows = [(bits, f"{rtn(m, bits).perplexity(v):.4f}") for bits in (8, 6, 4, 3, 2)]
    print(table(rows, ("weight bits (RTN, per channel)", "perplexity")))
    stats = m.activation_stats(v)
    rows = [(name, f"{s['channel_max'].max():.2f}", f"{s['outlier_ratio']:.1f}", f"{s['kurtosis']:.1f}",
             s["channels_over_6"]) for name, s in stats.items()]
    print(table(rows, ("layer input", "max |x|", "max/median channel", "kurtosis", "channels >= 6")))
    batch = tr.calibration_tokens(tr.PRETRAINED_TRAINING["batch_size"], seed=0, context=m.context)
    t_eval = median_ms(timeit(lambda: m.perplexity(v), repeat=3))
    t_step = median_ms(timeit(lambda: m.loss_and_grads(batch), repeat=5))
    t_gen = median_ms(timeit(lambda: m.generate("ROMEO.", 100), repeat=1))
    print(f"\nevaluate the validation slice: {t_eval:.0f} ms; one training step (batch {batch.shape[0]}): "
          f"{t_step:.0f} ms; generate 100 characters: {t_gen:.0f} ms")


if __name__ == "__main__":
    main()
