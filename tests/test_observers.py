"""Calibration observers against plain references: numpy reductions, brute force, TensorRT's pseudocode."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.ranges import affine
from qlearn.ranges.observers import (
    OBSERVERS,
    EntropyObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MSEObserver,
    NotFittedError,
    PercentileObserver,
    calibrate,
    histogram_mse,
    kl_divergence_curve,
)


def _gauss(n=100_000, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


# -- the contract ---------------------------------------------------------------------
def test_registry_and_calibrate_return_qparams():
    assert set(OBSERVERS) == {"minmax", "moving_average", "percentile", "mse", "entropy"}
    x = _gauss(20_000)
    for name, cls in OBSERVERS.items():
        qp = calibrate(x, method=name, bits=8, symmetric=True, signed=True, axis=None)
        assert isinstance(qp, affine.QParams)
        ref = cls(bits=8, symmetric=True).fit(x).qparams()
        assert qp.scale == ref.scale and qp.zero_point == ref.zero_point
    with pytest.raises(ValueError, match="method must be one of"):
        calibrate(x, method="kl")


@pytest.mark.parametrize("name", list(OBSERVERS))
def test_fit_and_partial_fit_return_self_and_qparams_before_fit_raises(name):
    obs = OBSERVERS[name](bits=8)
    with pytest.raises(NotFittedError, match="fit"):
        obs.qparams()
    with pytest.raises(ValueError, match="fit"):
        _ = obs.min_
    assert not hasattr(obs, "max_")
    assert obs.fit([1.0, -2.0]) is obs
    assert obs.partial_fit([0.5]) is obs
    assert isinstance(obs.qparams(), affine.QParams)


@pytest.mark.parametrize("name", list(OBSERVERS))
def test_bad_input(name):
    cls = OBSERVERS[name]
    with pytest.raises(ValueError, match="x is empty"):
        cls().fit([])
    with pytest.raises(ValueError, match="NaN or inf"):
        cls().fit([1.0, np.nan])
    with pytest.raises(ValueError, match="NaN or inf"):
        cls().fit([1.0, np.inf])
    with pytest.raises(ValueError, match=r"bits must be in \[1, 32\]"):
        cls(bits=0)
    with pytest.raises(ValueError, match=r"bits must be in \[1, 32\]"):
        cls(bits=33)
    with pytest.raises(ValueError, match="symmetric signed quantization needs bits >= 2"):
        cls(bits=1, symmetric=True)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        cls(axis=2).fit(np.ones((3, 4)))
    obs = cls(axis=0).fit(np.ones((3, 4)))
    with pytest.raises(ValueError, match="channels but the observer has seen 3"):
        obs.partial_fit(np.ones((5, 4)))


def test_percentile_and_momentum_ranges():
    for p in (0, -1, 100.5, 1000):
        with pytest.raises(ValueError, match=r"percentile must be in \(0, 100\]"):
            PercentileObserver(percentile=p)
    PercentileObserver(percentile=100)
    for m in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"momentum must be in \(0, 1\]"):
            MovingAverageMinMaxObserver(momentum=m)


# -- min/max ---------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20), min_size=1, max_size=6))
def test_minmax_streaming_equals_one_fit(batches):
    one = MinMaxObserver().fit(np.concatenate([np.array(b) for b in batches]))
    stream = MinMaxObserver()
    for b in batches:
        stream.partial_fit(b)
    assert (stream.min_, stream.max_) == (one.min_, one.max_)
    flat = [v for b in batches for v in b]
    assert one.min_ == min(flat) and one.max_ == max(flat)
    assert one.amax_ == max(abs(min(flat)), abs(max(flat)))


def test_minmax_per_channel_matches_affine_minmax_qparams():
    W = np.random.default_rng(3).normal(size=(6, 10)) * np.arange(1, 7)[:, None]
    for sym in (False, True):
        obs = MinMaxObserver(bits=8, symmetric=sym, axis=0).fit(W)
        np.testing.assert_array_equal(obs.min_, W.min(axis=1))
        np.testing.assert_array_equal(obs.max_, W.max(axis=1))
        ref = affine.minmax_qparams(W, bits=8, symmetric=sym, axis=0)
        np.testing.assert_array_equal(obs.qparams().scale, ref.scale)
        np.testing.assert_array_equal(obs.qparams().zero_point, ref.zero_point)
    obs1 = MinMaxObserver(axis=1).fit(W)
    np.testing.assert_array_equal(obs1.max_, W.max(axis=0))


def test_moving_average_matches_plain_recursion():
    rng = np.random.default_rng(2)
    batches = [rng.normal(size=50) * (1 + i) for i in range(8)]
    obs = MovingAverageMinMaxObserver(momentum=0.1)
    lo = hi = None
    for b in batches:
        obs.partial_fit(b)
        if lo is None:
            lo, hi = b.min(), b.max()
        else:
            lo, hi = 0.9 * lo + 0.1 * b.min(), 0.9 * hi + 0.1 * b.max()
    assert obs.min_ == pytest.approx(lo, rel=1e-12) and obs.max_ == pytest.approx(hi, rel=1e-12)
    # fit() forgets: one batch gives the plain min/max
    assert obs.fit(batches[0]).max_ == batches[0].max()


# -- histograms ------------------------------------------------------------------------
@pytest.mark.parametrize("sym", [False, True])
@pytest.mark.parametrize("p", [90.0, 99.0, 99.9, 99.99])
def test_percentile_within_one_bin_of_numpy(sym, p):
    x = _gauss(200_000, seed=4) * 2 + 0.5
    obs = PercentileObserver(percentile=p, symmetric=sym).fit(x)
    width = obs.bin_edges_[1] - obs.bin_edges_[0]
    if sym:
        assert abs(obs.amax_ - np.percentile(np.abs(x), p)) <= width
        assert obs.min_ == -obs.max_
    else:
        assert abs(obs.max_ - np.percentile(x, p)) <= width
        assert abs(obs.min_ - np.percentile(x, 100 - p)) <= width


def test_percentile_100_is_minmax():
    x = _gauss(1000)
    obs = PercentileObserver(percentile=100).fit(x)
    assert (obs.min_, obs.max_) == (x.min(), x.max())


@pytest.mark.parametrize("cls", [PercentileObserver, MSEObserver, EntropyObserver])
def test_histogram_streaming_equals_fit_when_first_batch_holds_the_extremes(cls):
    x = _gauss(30_000, seed=5)
    i, j = np.argmin(x), np.argmax(x)
    first = np.concatenate([[x[i], x[j]], x[:1000]])
    rest = np.delete(x, [i, j])[1000:]
    one = cls().fit(np.concatenate([first, rest]))
    stream = cls().partial_fit(first)
    for b in np.array_split(rest, 7):
        stream.partial_fit(b)
    np.testing.assert_array_equal(stream.hist_, one.hist_)
    np.testing.assert_array_equal(stream.bin_edges_, one.bin_edges_)
    assert (stream.min_, stream.max_) == (one.min_, one.max_)


@pytest.mark.parametrize("absolute", [False, True])
def test_histogram_range_growth_keeps_every_count(absolute):
    rng = np.random.default_rng(6)
    cls = EntropyObserver if absolute else MSEObserver
    obs = cls()
    batches = [rng.normal(size=500) * s + (0 if absolute else s) for s in (0.01, 1.0, 30.0, 1000.0)]
    for b in batches:
        obs.partial_fit(b)
    allx = np.concatenate(batches)
    vals = np.abs(allx) if absolute else allx
    assert obs.hist_.sum() == allx.size
    assert len(obs.hist_) <= 2048
    e = obs.bin_edges_
    assert e[0] <= vals.min() and e[-1] >= vals.max() * (1 - 1e-12)
    # every value is counted in the bin that contains it
    idx = np.clip(np.searchsorted(e, vals, side="right") - 1, 0, len(obs.hist_) - 1)
    np.testing.assert_array_equal(np.bincount(idx, minlength=len(obs.hist_)), obs.hist_)
    assert obs.data_min_ == allx.min() and obs.data_max_ == allx.max()


# -- MSE ---------------------------------------------------------------------------------
def test_histogram_mse_matches_data_mse():
    x = _gauss(200_000, seed=7)
    h, e = np.histogram(x, bins=2048)
    for bits, t in [(2, 1.0), (4, 2.5), (8, 4.0), (4, 10.0)]:
        qp = affine.compute_qparams(-t, t, bits=bits, symmetric=True)
        L, U = qp.range
        model = histogram_mse(h, e, L, U, qp.scale)[0]
        data = affine.quantization_error(x, qp)["mse"]
        assert model == pytest.approx(data, rel=0.02)


def test_histogram_mse_uniform_density_is_delta_squared_over_12():
    # one bin holding uniform data, many steps inside: exactly Delta^2/12 (the sawtooth integral)
    for step in (0.1, 0.01, 1 / 3):
        got = histogram_mse([5], [0.0, 1.0 + 0 * step], -10, 10, step)[0]
        n = round(1 / step)
        if abs(n * step - 1) < 1e-12:
            assert got == pytest.approx(step**2 / 12, rel=1e-9)
    # pure clipping: uniform on [0, 1] clipped at 0.5 -> int_0.5^1 (u - 0.5)^2 du = 1/24
    assert histogram_mse([1], [0.0, 1.0], -1.0, 0.5, 1e-9)[0] == pytest.approx(1 / 24, rel=1e-6)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_mse_observer_against_brute_force_on_the_data(bits):
    x = _gauss(40_000, seed=8)
    obs = MSEObserver(bits=bits, symmetric=True).fit(x)
    got = affine.quantization_error(x, obs.qparams())["mse"]
    ts = np.linspace(0.3, 5.0, 471)
    brute = min(affine.quantization_error(x, affine.compute_qparams(-t, t, bits=bits, symmetric=True))["mse"]
                for t in ts)
    # the observer minimises over the histogram (uniform inside each bin), not the sample itself
    assert got <= brute * 1.005


def test_mse_observer_asymmetric_relu_against_brute_force():
    x = np.maximum(_gauss(30_000, seed=9), 0)
    obs = MSEObserver(bits=4).fit(x)
    assert obs.min_ == 0.0
    got = affine.quantization_error(x, obs.qparams())["mse"]
    brute = min(affine.quantization_error(x, affine.compute_qparams(0.0, t, bits=4))["mse"]
                for t in np.linspace(0.5, x.max(), 300))
    assert got <= brute * 1.005
    assert got < affine.quantization_error(x, MinMaxObserver(bits=4).fit(x).qparams())["mse"]


def test_mse_and_percentile_per_channel_equal_channel_by_channel():
    W = np.random.default_rng(10).laplace(size=(4, 3000)) * np.array([0.1, 1, 3, 10])[:, None]
    for cls in (MSEObserver, PercentileObserver, EntropyObserver):
        pc = cls(bits=4, symmetric=True, axis=0).fit(W)
        for c in range(4):
            single = cls(bits=4, symmetric=True).fit(W[c])
            assert pc.amax_[c] == single.amax_
        assert pc.qparams().axis == 0 and pc.qparams().scale.shape == (4,)
        assert isinstance(pc.hist_, list) and len(pc.hist_) == 4


# -- entropy -----------------------------------------------------------------------------
def _ref_kl_single(bins, i, levels):
    """Migacz 2017, 'Entropy Calibration - pseudocode', for one candidate i, with plain Python."""
    bins = [float(v) for v in bins]
    P = bins[:i]
    P[i - 1] += sum(bins[i:])
    group = [k * levels // i for k in range(i)]
    tot, cnt = {}, {}
    for k in range(i):
        if bins[k] > 0:
            tot[group[k]] = tot.get(group[k], 0.0) + bins[k]
            cnt[group[k]] = cnt.get(group[k], 0) + 1
    Q = [tot[group[k]] / cnt[group[k]] if bins[k] > 0 else 0.0 for k in range(i)]
    sp, sq = sum(P), sum(Q)
    kl = 0.0
    for p, q in zip(P, Q):
        if p > 0:
            if q == 0:
                return math.inf
            kl += p / sp * math.log((p / sp) / (q / sq))
    return kl


def test_kl_curve_matches_plain_pseudocode_on_small_histograms():
    rng = np.random.default_rng(11)
    for trial in range(4):
        h = np.histogram(np.abs(rng.standard_normal(20_000)), bins=300)[0].astype(float)
        h[rng.integers(0, 300, 15)] = 0  # empty bins: Q must stay 0 there
        levels = [8, 16, 128, 512][trial]
        cand, kl = kl_divergence_curve(h, levels, start=20)
        for i in range(20, 301, 7):
            ref = _ref_kl_single(h, i, levels)
            got = kl[i - 20]
            assert (math.isinf(ref) and math.isinf(got)) or got == pytest.approx(ref, abs=1e-12)


def test_entropy_observer_2048_bins_follows_tensorrt():
    x = np.random.default_rng(12).laplace(size=200_000)
    obs = EntropyObserver(bits=8).fit(x)
    h, e = obs.hist_, obs.bin_edges_
    assert len(h) == 2048 and e[0] == 0.0 and e[-1] == pytest.approx(np.abs(x).max())
    width = e[1] - e[0]
    idx = np.minimum((np.abs(x) / width).astype(int), 2047)
    np.testing.assert_array_equal(np.bincount(idx, minlength=2048), h)
    cand, kl = kl_divergence_curve(h, 128, start=128)
    assert cand[0] == 128 and cand[-1] == 2048
    for i in (128, 300, 777, 1500, 2048):
        ref = _ref_kl_single(h, i, 128)
        assert (math.isinf(ref) and math.isinf(kl[i - 128])) or kl[i - 128] == pytest.approx(ref, abs=1e-12)
    m = cand[len(kl) - 1 - np.argmin(kl[::-1])]
    assert obs.amax_ == pytest.approx((m + 0.5) * width)
    assert obs.min_ == -obs.max_
    thr, curve = obs.kl_curve()
    assert thr[0] == pytest.approx(128.5 * width) and np.array_equal(curve, kl)


def test_entropy_asymmetric_cuts_to_data_and_clips_outliers():
    x = np.maximum(_gauss(100_000, seed=13), 0)
    x[:20] = 40.0  # outliers
    obs = EntropyObserver(symmetric=False).fit(x)
    # KL ignores 20 outliers in 100 000; it cannot go below 128 of the 2048 bins (2.5 here)
    assert obs.min_ == 0.0 and 128 * 40 / 2048 < obs.max_ < 10.0


def test_kl_bad_input():
    with pytest.raises(ValueError, match="hist is all zeros"):
        kl_divergence_curve(np.zeros(10))
    with pytest.raises(ValueError, match="hist must hold finite counts"):
        kl_divergence_curve([1.0, -1.0])


def test_constant_data_does_not_break():
    for name, cls in OBSERVERS.items():
        for v in (0.0, 3.0, -2.0):
            qp = cls(bits=8).fit(np.full(100, v)).qparams()
            assert np.isfinite(qp.scale) and qp.scale > 0, name


def test_kl_distributions_match_the_pseudocode_and_the_curve():
    rng = np.random.default_rng(14)
    h = np.histogram(np.abs(rng.laplace(size=5000)), bins=256)[0].astype(float)
    h[[3, 50, 51]] = 0
    from qlearn.ranges.observers import kl_distributions
    _, kl = kl_divergence_curve(h, 16, start=16)
    for i in (16, 40, 99, 256):
        P, Q = kl_distributions(h, i, 16)
        assert P.sum() == pytest.approx(1) and Q.sum() == pytest.approx(1)
        m = P > 0
        direct = np.inf if np.any(Q[m] == 0) else float(np.sum(P[m] * np.log(P[m] / Q[m])))
        assert direct == pytest.approx(kl[i - 16], abs=1e-12)
        assert direct == pytest.approx(_ref_kl_single(h, i, 16), abs=1e-12)


def test_lesson04_numbers():
    """The numbers notebooks/04_histograms_calibration.ipynb states."""
    from qlearn.ranges import snr
    from qlearn.ranges.metrics import sqnr_db
    from qlearn.viz.ranges import calibration as VC

    x = snr.sample_distribution("laplace", 100_000, seed=0)
    assert 8.4 < np.abs(x).max() < 8.5 and 6.8 < np.percentile(np.abs(x), 99.99) < 6.85
    s = {(m, b): sqnr_db(x, affine.fake_quantize(x, calibrate(x, method=m, bits=b, symmetric=True)))
         for m in ("minmax", "percentile", "mse", "entropy") for b in (4, 8)}
    assert 9.4 < s["minmax", 4] < 9.6 and 15.8 < s["mse", 4] < 15.9
    assert max((m for m in ("minmax", "percentile", "mse", "entropy")), key=lambda m: s[m, 4]) == "mse"
    assert max(s[m, 8] for m in ("minmax", "percentile", "mse", "entropy")) - s["minmax", 8] < 1.0
    g = snr.sample_distribution("gaussian", 20_000, seed=0)
    clips = np.round(np.arange(0.5, 8.001, 0.05), 3)
    assert clips[np.argmin(VC.clipping_curves(g, 4, clips)["total"])] == pytest.approx(2.7)
    kl = EntropyObserver(bits=8).fit(snr.sample_distribution("gaussian", 200_000, seed=0))
    assert 4.26 < kl.amax_ < 4.28 and 4.73 < kl.data_max_ < 4.74
    pc = VC.per_channel_sqnr(VC.channel_scaled_weights(), 4)
    assert 8.5 < pc["per-tensor"].mean() < 8.7 and 18.3 < pc["per-channel"].mean() < 18.4
    assert (pc["per-tensor"] == 0).sum() == 5
