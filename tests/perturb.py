"""Shared by the portability tests: a network loader that moves every float parameter by one ulp."""
import numpy as np

from qlearn.networks.batchnorm import BatchNorm


def ulp_nudged(load, rng):
    """``load`` wrapped so every weight, bias and batch-norm statistic moves one ulp up or down (``rng``)."""

    def nudged(path):
        net = load(path)
        for layer in net.layers:
            extra = [layer.mean, layer.var] if isinstance(layer, BatchNorm) else []
            for p in layer.params() + extra:
                p[...] = np.nextafter(p, np.where(rng.random(p.shape) < 0.5, -np.inf, np.inf))
        return net

    return nudged
