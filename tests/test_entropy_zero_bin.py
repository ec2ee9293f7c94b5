"""KL (entropy) calibration with the zero bin flattened, against pytorch-quantization's algorithm.

NVIDIA's ``pytorch_quantization.calib.histogram._compute_amax_entropy`` sets ``bins[0] = bins[1]``
before its search, then for every candidate ``i`` builds the reference distribution (bins ``[0, i)``,
the outliers added to the last one) and the candidate (``i`` bins merged into ``2**(bits-1+unsigned)``
groups by ``np.digitize`` on ``np.linspace(0, i, levels + 1)``, each group's mass spread over its
non-empty bins) and keeps the last candidate of least KL divergence. The reference below is that
loop, written out here with numpy (``scipy.stats.entropy`` replaced by its formula); qlearn's
observer must pick the same candidate.
"""
from __future__ import annotations

import numpy as np
import pytest

from qlearn.ranges import observers


def reference_candidate(counts, levels: int, start: int = 128) -> int:
    bins = np.array(counts, dtype=np.float64)
    bins[0] = bins[1]
    total = bins.sum()
    divergences = []
    for i in range(start, bins.size + 1):
        space = np.linspace(0, i, num=levels + 1)
        group = np.digitize(range(i), space) - 1
        group[bins[:i] == 0] = -1
        mass = np.zeros(levels)
        members = np.zeros(levels)
        for k, g in enumerate(group):
            if g != -1:
                mass[g] += bins[k]
                members[g] += 1
        q = np.array([mass[g] / members[g] if g != -1 else 0.0 for g in group])
        p = bins[:i].copy()
        p[-1] += bins[i:].sum()
        assert round(q.sum() + bins[i:].sum()) == round(total) and round(p.sum()) == round(total)
        p, q = p / p.sum(), q / q.sum()
        if np.any((q == 0) & (p > 0)):
            divergences.append(np.inf)
            continue
        m = p > 0
        divergences.append(float(np.sum(p[m] * np.log(p[m] / q[m]))))
    d = np.array(divergences)
    return start + (len(d) - 1 - int(np.argmin(d[::-1])))


def relu_data(seed: int, zeros: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.abs(rng.standard_t(4, 40_000))
    x[rng.random(x.size) < zeros] = 0.0
    return x


@pytest.mark.parametrize("seed, zeros, bits, signed", [(0, 0.5, 8, False), (1, 0.3, 8, True), (2, 0.6, 6, False),
                                                       (3, 0.0, 8, False)])
def test_flattened_zero_bin_picks_pytorch_quantizations_candidate(seed, zeros, bits, signed):
    x = relu_data(seed, zeros)
    obs = observers.EntropyObserver(bits=bits, signed=signed, zero_bin="flatten", bins=512).fit(x)
    st = obs._states[0]
    thresholds, kl = obs.kl_curve()
    ours = int(round(thresholds[len(kl) - 1 - int(np.argmin(kl[::-1]))] / st.width - 0.5))
    assert ours == reference_candidate(st.counts, obs.levels)
    assert obs.amax_ == pytest.approx((ours + 0.5) * st.width)


def test_a_spike_at_zero_pulls_the_kept_threshold_down_and_flattening_it_does_not():
    x = relu_data(0, 0.5)
    kept = observers.EntropyObserver(bits=8, signed=False).fit(x).amax_
    flat = observers.EntropyObserver(bits=8, signed=False, zero_bin="flatten").fit(x).amax_
    no_zeros = observers.EntropyObserver(bits=8, signed=False).fit(x[x > 0]).amax_
    assert kept < 0.5 * flat
    assert flat == pytest.approx(no_zeros, rel=0.1)


def test_zero_bin_must_be_keep_or_flatten():
    with pytest.raises(ValueError, match="zero_bin must be 'keep' or 'flatten'"):
        observers.EntropyObserver(zero_bin="drop")
