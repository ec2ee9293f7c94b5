"""Explorers of lesson 04 (qlearn.viz.ranges.calibration), driven in plain Python."""
import numpy as np
import pytest

from qlearn.ranges import affine, observers, snr
from qlearn.viz.ranges import calibration as V


def _finite(fig):
    for tr in fig.data:
        for attr in ("x", "y"):
            val = getattr(tr, attr, None)
            if val is not None and len(val):
                nums = np.array([v for v in np.asarray(val, dtype=object).ravel() if v is not None], dtype=float)
                assert np.all(np.isfinite(nums)), (tr.name, attr)


def test_calibration_explorer_draws_each_calibrators_range():
    ex = V.calibration_explorer(n=20_000)
    ex.controls["distribution"].value = "outliers"
    ex.controls["bits"].value = 4
    x = snr.sample_distribution("outliers", 20_000, seed=0)
    for k, (label, method, opts, _) in enumerate(V.CALIBRATORS):
        qp = observers.calibrate(x, method=method, bits=4, symmetric=True, **opts)
        lo, hi = qp.range
        assert list(ex.fig.data[k + 1].x)[:2] == [pytest.approx(lo), pytest.approx(lo)]
        assert ex.fig.data[k + 1].x[3] == pytest.approx(hi)
        assert label in ex.readout.value
    # min/max spans the outliers, the MSE clip does not
    assert ex.fig.data[1].x[3] > 10 > ex.fig.data[3].x[3]
    assert ex.fig.data[0].y is not None and sum(ex.fig.data[0].y) == 20_000
    _finite(ex.fig)
    ex.controls["distribution"].value = "relu"
    assert ex.fig.data[1].x[0] == 0.0 and "asymmetric" in ex.readout.value


def test_clipping_explorer_curves_add_up_and_best_is_the_minimum():
    ex = V.clipping_explorer(n=5000)
    ex.controls["bits"].value = 3
    g, o, t = (np.array(ex.fig.data[i].y) for i in range(3))
    np.testing.assert_allclose(np.maximum(g + o, 1e-12), t, rtol=1e-9)
    assert ex.fig.data[4].y[0] == pytest.approx(t.min())
    x = snr.sample_distribution("gaussian", 5000, seed=0)
    ex.controls["clip"].value = 2.0
    d = snr.noise_decomposition(x, 3, 2.0)
    assert ex.fig.data[3].y[2] == pytest.approx(d["total"])
    assert "Banner" in ex.readout.value
    exact = snr.optimal_clip("gaussian", 3, model="exact")
    assert f"exact optimum for the gaussian density: {exact:.2f}" in ex.readout.value
    ex.controls["distribution"].value = "laplace"
    exact = snr.optimal_clip("laplace", 3, scale=1 / np.sqrt(2), model="exact")   # unit-variance Laplace
    assert f"exact optimum for the laplace density: {exact:.2f}" in ex.readout.value


def test_entropy_search_explorer_matches_the_observer():
    ex = V.entropy_search_explorer(n=50_000)
    x = snr.sample_distribution("gaussian", 50_000, seed=0)
    obs = observers.EntropyObserver().fit(x)
    thr, kl = obs.kl_curve()
    assert ex.fig.data[4].x[0] == pytest.approx(obs.amax_)
    ex.controls["candidate"].value = 512
    P, Q = observers.kl_distributions(obs.hist_, 512, 128)
    assert len(ex.fig.data[0].y) == 512
    got = np.array([v if v is not None else 0.0 for v in ex.fig.data[1].y], dtype=float)
    np.testing.assert_allclose(got, Q)
    assert ex.fig.data[3].y[0] == pytest.approx(kl[512 - 128])
    for kind in ("laplace", "relu", "outliers"):
        ex.controls["distribution"].value = kind
        ex.controls["candidate"].value = 2048
        assert ex.last_error is None
        _finite(ex.fig)


def test_per_channel_beats_per_tensor():
    ex = V.per_channel_range_explorer()
    W = V.channel_scaled_weights()
    for bits in (2, 4, 8):
        ex.controls["bits"].value = bits
        pt, pc = np.array(ex.fig.data[2].y), np.array(ex.fig.data[3].y)
        assert np.all(pc >= pt - 1e-9)
        if bits >= 4:
            assert pc.mean() > pt.mean() + 3
        qp = affine.minmax_qparams(W, bits=bits, symmetric=True, narrow_range=True, axis=0)
        c = 5
        err = W[c] - affine.fake_quantize(W, qp)[c]
        assert pc[c] == pytest.approx(10 * np.log10(np.sum(W[c] ** 2) / np.sum(err**2)))


def test_lesson04_prose_figures():
    """Numbers lesson 04 states beyond tests/test_observers.py::test_lesson04_numbers."""
    import qlearn as ql

    x = ql.ranges.snr.sample_distribution("laplace", 100_000, seed=0)
    clip8 = {m: ql.ranges.observers.calibrate(x, method=m, bits=8, symmetric=True).range[1]
             for m in ("minmax", "percentile", "mse", "entropy")}
    assert len({round(v, 2) for v in clip8.values()}) == 4 and 6.7 < min(clip8.values()) < 6.85
    # the erratum of section 3 (checked against brute-force integration in tests/test_snr.py)
    alpha = {m: ql.ranges.snr.optimal_clip("gaussian", 4, model=m) for m in ("aciq", "aciq_midrise", "exact")}
    assert {m: round(v, 2) for m, v in alpha.items()} == {"aciq": 2.56, "aciq_midrise": 2.69, "exact": 2.68}
    g = ql.ranges.snr.sample_distribution("gaussian", 200_000, seed=0)
    thr, kl = ql.ranges.observers.EntropyObserver(bits=8).fit(g).kl_curve()
    assert np.isinf(kl).any() and thr[np.isinf(kl)].min() > 2.9
    W = V.channel_scaled_weights()
    ranges = np.abs(W).max(axis=1)
    assert round(ranges.max() / ranges.min()) == 29
    qp = ql.ranges.observers.calibrate(W, method="minmax", bits=4, symmetric=True, narrow_range=True)
    assert np.unique(ql.quantize(W[np.argmin(ranges)], qp)).size == 1
