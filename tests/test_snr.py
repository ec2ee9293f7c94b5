"""SQNR rules and optimal clipping, checked by simulation, closed forms and brute force."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.ranges import metrics, snr


# -- the quantizer -----------------------------------------------------------------------
def _ref_midrise(v, bits, amax):
    """Plain Python: 2**bits cells of width Delta over [-amax, amax], output at the cell centre."""
    d = 2 * amax / 2**bits
    k = math.floor(v / d)
    k = max(-(2 ** (bits - 1)), min(2 ** (bits - 1) - 1, k))
    return (k + 0.5) * d


@settings(max_examples=200, deadline=None)
@given(st.floats(-10, 10), st.integers(1, 12), st.floats(0.1, 5))
def test_midrise_matches_plain_reference(v, bits, amax):
    assert snr.uniform_quantize([v], bits, amax)[0] == pytest.approx(_ref_midrise(v, bits, amax), abs=1e-12)


def test_exhaustive_levels_small_bits():
    for bits in range(1, 6):
        x = np.linspace(-2, 2, 4001)
        levels = np.unique(snr.uniform_quantize(x, bits, 1.0))
        d = 2 / 2**bits
        np.testing.assert_allclose(levels, (np.arange(-(2 ** (bits - 1)), 2 ** (bits - 1)) + 0.5) * d)
        mt = np.unique(snr.uniform_quantize(x, bits, 1.0, kind="midtread"))
        np.testing.assert_allclose(mt, np.arange(-(2 ** (bits - 1)), 2 ** (bits - 1)) * d)


def test_bad_input():
    with pytest.raises(ValueError, match=r"bits must be in \[1, 32\]"):
        snr.uniform_quantize([0.0], 0, 1.0)
    with pytest.raises(ValueError, match="amax must be a finite number > 0"):
        snr.uniform_quantize([0.0], 4, 0.0)
    with pytest.raises(ValueError, match="kind must be"):
        snr.uniform_quantize([0.0], 4, 1.0, kind="round")
    with pytest.raises(ValueError, match="NaN or inf"):
        snr.noise_decomposition([np.nan], 4, 1.0)
    with pytest.raises(ValueError, match="x is empty"):
        snr.noise_decomposition([], 4, 1.0)
    with pytest.raises(ValueError, match="dist must be one of"):
        snr.clip_mse("cauchy", 1.0, 4)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        snr.clip_mse("gaussian", -1.0, 4)
    with pytest.raises(ValueError, match="model must be"):
        snr.clip_mse("gaussian", 1.0, 4, model="mc")
    with pytest.raises(ValueError, match="k must be a finite number > 0"):
        snr.clipped_sqnr_db(8, 0)
    with pytest.raises(ValueError, match="kind must be one of"):
        snr.sample_distribution("cauchy", 10)
    with pytest.raises(ValueError, match="all zeros"):
        snr.optimal_clip(np.zeros(10), 4)


# -- the rules ---------------------------------------------------------------------------
def test_theory_lines_are_the_textbook_formulas():
    for n in range(1, 17):
        assert snr.sine_sqnr_db(n) == metrics.theoretical_sqnr_db(n)
        assert snr.sine_sqnr_db(n) == pytest.approx(6.0206 * n + 1.7609, abs=1e-3)
        assert snr.uniform_sqnr_db(n) == pytest.approx(6.0206 * n, abs=1e-3)
        for k in (2, 3, 4, 5):
            # SQNR = sigma^2 / (Delta^2/12) with Delta = 2 k sigma / 2^n
            d = 2 * k / 2**n
            assert snr.clipped_sqnr_db(n, k) == pytest.approx(10 * math.log10(1 / (d * d / 12)), abs=1e-9)
            assert snr.gaussian_sqnr_db(n, k) == snr.clipped_sqnr_db(n, k)
    assert snr.granular_noise_power(0.3) == pytest.approx(0.09 / 12)


SINE = snr.sine(1_000_000)


@pytest.mark.parametrize("bits", range(9, 17))
def test_full_scale_sine_within_0p1_db_from_9_bits(bits):
    assert snr.measured_sqnr_db(SINE, bits, 1.0) == pytest.approx(snr.sine_sqnr_db(bits), abs=0.1)


def test_full_scale_sine_at_few_bits_falls_short_and_the_gap_shrinks():
    """At 4-8 bits an exactly full-scale sine spends long in the top step (arcsine density):
    the error there is not uniform and the SQNR is 0.1-0.6 dB below 6.02 N + 1.76."""
    gaps = [snr.sine_sqnr_db(n) - snr.measured_sqnr_db(SINE, n, 1.0) for n in range(4, 17)]
    assert 0.45 < gaps[0] < 0.6 and 0.1 < gaps[4] < 0.2
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    # random phase gives the same numbers (the irrational frequency already covers every phase)
    ph = np.random.default_rng(0).uniform(0, 2 * np.pi, 1_000_000)
    assert snr.measured_sqnr_db(np.sin(ph), 4, 1.0) == pytest.approx(snr.sine_sqnr_db(4) - gaps[0], abs=0.02)
    # a frequency commensurate with the sampling visits few phases: the rule does not apply
    commens = snr.sine(1_000_000, cycles_per_sample=1 / 8)
    assert abs(snr.measured_sqnr_db(commens, 8, 1.0) - snr.sine_sqnr_db(8)) > 0.5


@pytest.mark.parametrize("bits", [4, 8, 12])
def test_uniform_signal_6db_per_bit(bits):
    x = np.random.default_rng(1).uniform(-1, 1, 1_000_000)
    assert snr.measured_sqnr_db(x, bits, 1.0) == pytest.approx(snr.uniform_sqnr_db(bits), abs=0.05)


GAUSS = np.random.default_rng(2).standard_normal(2_000_000)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
@pytest.mark.parametrize("bits", [4, 5, 6, 7, 8])
def test_gaussian_granular_rule(k, bits):
    """What is compared: signal power sigma^2 against the mean squared error of the samples
    INSIDE [-k sigma, k sigma] (granular noise per in-range sample). It equals Delta^2/12 because
    the Gaussian density is smooth on the scale of one step (Delta = 2k/2^N <= 0.625 sigma)."""
    d = snr.noise_decomposition(GAUSS, bits, float(k))
    measured = 10 * math.log10(d["signal_power"] / d["granular_per_inside"])
    assert measured == pytest.approx(snr.gaussian_sqnr_db(bits, k), abs=0.2)
    assert d["granular"] + d["overload"] == pytest.approx(d["total"])


@pytest.mark.parametrize("bits", [4, 5, 6, 7, 8])
def test_gaussian_total_sqnr_follows_the_rule_only_when_clipping_is_negligible(bits):
    d5 = snr.noise_decomposition(GAUSS, bits, 5.0)
    assert d5["sqnr_db"] == pytest.approx(snr.gaussian_sqnr_db(bits, 5), abs=0.2)  # overload tiny at 5 sigma
    d2 = snr.noise_decomposition(GAUSS, bits, 2.0)
    assert d2["overload"] > d2["granular"] or bits == 4  # at 2 sigma clipping dominates from 5 bits
    assert d2["sqnr_db"] < snr.gaussian_sqnr_db(bits, 2) - 1.0


def test_noise_decomposition_against_a_plain_loop():
    x = np.random.default_rng(3).laplace(size=2000)
    d = snr.noise_decomposition(x, 3, 1.5)
    g = o = 0.0
    for v in x:
        e = (v - _ref_midrise(v, 3, 1.5)) ** 2
        if abs(v) <= 1.5:
            g += e
        else:
            o += e
    assert d["granular"] == pytest.approx(g / x.size) and d["overload"] == pytest.approx(o / x.size)


# -- optimal clipping --------------------------------------------------------------------
def _aciq_plain(dist, alpha, bits):
    """Banner et al. 2019, eqs. for E[(X - Q(X))^2] (unit b or sigma), written out."""
    gran = alpha**2 / (3 * 2 ** (2 * bits))
    if dist == "laplace":
        return 2 * math.exp(-alpha) + gran
    return ((alpha**2 + 1) * (1 - math.erf(alpha / math.sqrt(2)))
            - math.sqrt(2 / math.pi) * alpha * math.exp(-alpha**2 / 2) + gran)


@pytest.mark.parametrize("dist", ["laplace", "gaussian"])
def test_clip_mse_aciq_is_the_paper_formula(dist):
    for a in (0.5, 1.7, 3.0, 9.9):
        for bits in (2, 4, 8):
            assert snr.clip_mse(dist, a, bits) == pytest.approx(_aciq_plain(dist, a, bits), rel=1e-12)


@pytest.mark.parametrize("dist", ["laplace", "gaussian"])
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_optimal_clip_matches_banner_table_and_brute_force(dist, bits):
    alpha = snr.optimal_clip(dist, bits)
    assert alpha == pytest.approx(snr.BANNER_2019_ALPHA[dist][bits], abs=0.01)
    grid = np.linspace(0.5, 15, 29_001)  # step 5e-4
    brute = grid[np.argmin([_aciq_plain(dist, a, bits) for a in grid])]
    assert alpha == pytest.approx(brute, abs=1e-3)


@pytest.mark.parametrize("dist,scale", [("gaussian", 1.0), ("laplace", 1 / math.sqrt(2)), ("uniform", math.sqrt(3))])
@pytest.mark.parametrize("bits", [2, 4])
def test_exact_clip_mse_against_monte_carlo(dist, scale, bits):
    rng = np.random.default_rng(4)
    x = {"gaussian": lambda: rng.normal(0, scale, 1_000_000),
         "laplace": lambda: rng.laplace(0, scale, 1_000_000),
         "uniform": lambda: rng.uniform(-scale, scale, 1_000_000)}[dist]()
    for a in (0.7, 1.5, 2.5):
        mc = np.mean((x - snr.uniform_quantize(x, bits, a)) ** 2)
        assert snr.clip_mse(dist, a, bits, scale=scale, model="exact") == pytest.approx(mc, rel=0.02)


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_exact_optimal_clip_against_brute_force_on_samples(bits):
    x = GAUSS[:400_000]
    a_exact = snr.optimal_clip("gaussian", bits, model="exact")
    grid = np.linspace(0.8, 4.0, 161)
    mc = np.array([np.mean((x - snr.uniform_quantize(x, bits, a)) ** 2) for a in grid])
    assert np.mean((x - snr.uniform_quantize(x, bits, a_exact)) ** 2) <= mc.min() * 1.005
    a_emp = snr.optimal_clip(x, bits)
    assert a_emp == pytest.approx(a_exact, rel=0.03)


def _brute_terms_gaussian(alpha, bits, per_step=2000, reach=14.0):
    """Unit Gaussian through a plain mid-rise quantizer, by a midpoint sum on a grid aligned to the steps.

    Independent of qlearn: the levels are (k + 1/2) Delta, k = -2**(bits-1) .. 2**(bits-1) - 1, and
    every sample beyond +-alpha goes to the outermost level (granular = |x| <= alpha, overload = beyond).
    """
    step = 2 * alpha / 2**bits
    n_steps = math.ceil(reach / step)
    h = step / per_step
    x = (np.arange(-n_steps * per_step, n_steps * per_step) + 0.5) * h
    k = np.clip(np.floor(x / step), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    w = np.exp(-x * x / 2) / math.sqrt(2 * math.pi) * h
    e2 = (x - (k + 0.5) * step) ** 2
    inside = np.abs(x) <= alpha
    return {"granular": float(np.sum(e2[inside] * w[inside])), "overload": float(np.sum(e2[~inside] * w[~inside])),
            "overload_to_alpha": float(np.sum((np.abs(x[~inside]) - alpha) ** 2 * w[~inside])),
            "inside_fraction": float(np.sum(w[inside]))}


def test_clip_mse_terms_against_brute_force_integration():
    """Lesson 04's erratum: at 4 bits and alpha = 2.7 sigma Delta^2/12 is accurate; ACIQ's overload term is not."""
    for alpha, bits in ((2.7, 4), (1.71, 2), (2.15, 3), (3.92, 8)):
        t = snr.clip_mse_terms("gaussian", alpha, bits)
        ref = _brute_terms_gaussian(alpha, bits)
        step = 2 * alpha / 2**bits
        assert t["step"] == step
        assert t["granular"] == pytest.approx(ref["granular"], rel=1e-5)
        assert t["overload"] == pytest.approx(ref["overload"], rel=1e-5)
        assert t["overload_aciq"] == pytest.approx(ref["overload_to_alpha"], rel=1e-5)
        assert t["inside_fraction"] == pytest.approx(ref["inside_fraction"], rel=1e-7)
        assert t["granular_model"] == pytest.approx(step**2 / 12 * ref["inside_fraction"], rel=1e-7)
        assert t["granular_aciq"] == step**2 / 12
        assert t["overload"] > t["overload_aciq"]  # the outer level is Delta/2 inside the clip
    t = snr.clip_mse_terms("gaussian", 2.7, 4)
    ref = _brute_terms_gaussian(2.7, 4)
    # the figures lesson 04 states (closed forms and quadrature, no BLAS: pinned)
    assert (round(ref["granular"], 6), round(t["granular"], 6)) == (0.009424, 0.009424)
    assert round(t["granular_model"], 6) == 0.009426 and round(t["granular_aciq"], 6) == 0.009492
    assert (round(ref["overload"], 5), round(t["overload"], 5)) == (0.00212, 0.00212)
    assert (round(ref["overload_to_alpha"], 5), round(t["overload_aciq"], 5)) == (0.00121, 0.00121)
    for dist, scale in (("laplace", 1 / math.sqrt(2)), ("uniform", math.sqrt(3))):
        t = snr.clip_mse_terms(dist, 1.2, 3, scale=scale)
        assert snr.clip_mse(dist, 1.2, 3, scale=scale, model="exact") == t["granular"] + t["overload"]
        assert snr.clip_mse(dist, 1.2, 3, scale=scale, model="aciq_midrise") == t["granular_aciq"] + t["overload"]
        assert snr.clip_mse(dist, 1.2, 3, scale=scale) == t["granular_aciq"] + t["overload_aciq"]


def test_gaussian_4bit_optima_of_the_three_models_against_brute_force():
    """ACIQ 2.56 (printed 2.55), ACIQ with the overload to the outer level 2.69, exact quantizer 2.68."""
    grid = np.round(np.arange(2.40, 2.90, 0.0025), 4)
    terms = [_brute_terms_gaussian(a, 4, per_step=500) for a in grid]
    exact = [t["granular"] + t["overload"] for t in terms]
    midrise = [(2 * a / 16) ** 2 / 12 + t["overload"] for a, t in zip(grid, terms)]
    aciq = [_aciq_plain("gaussian", a, 4) for a in grid]
    got = {m: snr.optimal_clip("gaussian", 4, model=m) for m in ("aciq", "aciq_midrise", "exact")}
    for m, curve in (("aciq", aciq), ("aciq_midrise", midrise), ("exact", exact)):
        assert got[m] == pytest.approx(grid[int(np.argmin(curve))], abs=0.0025)
    assert {m: round(v, 2) for m, v in got.items()} == {"aciq": 2.56, "aciq_midrise": 2.69, "exact": 2.68}


def test_clip_models_order_at_every_bit_width():
    for dist in ("gaussian", "laplace"):
        for bits in (2, 3, 4, 8):
            a = {m: snr.optimal_clip(dist, bits, model=m) for m in ("aciq", "aciq_midrise", "exact")}
            assert a["aciq"] < a["exact"] and a["aciq"] < a["aciq_midrise"]
            # the overload term is most of the gap: correcting it alone lands closer to the exact optimum
            assert abs(a["aciq_midrise"] - a["exact"]) < abs(a["aciq"] - a["exact"])
            if dist == "gaussian":
                assert a["aciq_midrise"] == pytest.approx(a["exact"], abs=0.03)


def test_uniform_distribution_is_best_unclipped():
    for bits in (2, 4, 8):
        assert snr.optimal_clip("uniform", bits, model="exact") == pytest.approx(1.0, abs=1e-3)
        assert snr.optimal_clip("uniform", bits) < 1.0  # the ACIQ approximation clips a little


def test_optimal_clip_grows_with_bits():
    for dist in ("gaussian", "laplace"):
        a = [snr.optimal_clip(dist, b) for b in range(2, 9)]
        assert all(x < y for x, y in zip(a, a[1:]))


def test_samples_have_unit_std_and_are_deterministic():
    for kind in ("gaussian", "laplace", "uniform", "outliers"):
        x = snr.sample_distribution(kind, 400_000, seed=5)
        if kind != "outliers":
            assert x.std() == pytest.approx(1.0, abs=0.01)
        np.testing.assert_array_equal(x, snr.sample_distribution(kind, 400_000, seed=5))
    r = snr.sample_distribution("relu", 10_000)
    assert r.min() == 0.0 and 0.45 < np.mean(r == 0) < 0.55
    o = snr.sample_distribution("outliers", 10_000)
    assert np.sum(np.abs(o) > 10) == 10


def test_lesson05_numbers():
    """The numbers notebooks/05_snr.ipynb states."""
    from qlearn.numbers import signals

    s = snr.sine(200_000)
    d = snr.noise_decomposition(s, 12, 1.0)
    assert abs(d["granular_per_inside"] / d["granular_model"] - 1) < 0.01
    m8 = snr.measured_sqnr_db(s, 8, 1.0)
    assert abs(m8 - 49.79) < 0.01 and abs(snr.measured_sqnr_db(s, 9, 1.0) - m8 - 6.06) < 0.01
    g = snr.sample_distribution("gaussian", 200_000, seed=0)
    assert abs(snr.noise_decomposition(g, 8, 4.0)["sqnr_db"] - 40.5) < 0.1
    assert abs(snr.noise_decomposition(g, 16, 4.0)["sqnr_db"] - 51.4) < 0.1
    assert abs(snr.noise_decomposition(g, 16, 2.0)["sqnr_db"] - 19.3) < 0.05
    short = {n: snr.sine_sqnr_db(n) - snr.measured_sqnr_db(s, n, 1.0) for n in (1, 4, 12)}
    assert 1.3 < short[1] < 1.4 and 0.5 < short[4] < 0.55 and short[12] < 0.05
    # the top step of the 4-bit mid-rise quantizer is [7/8, 1]: the sine is there arccos(7/8)/pi of the time
    top = np.mean(s >= 1 - snr.step_size(4, 1.0))
    assert top == pytest.approx(math.acos(7 / 8) / math.pi, abs=2e-3) and round(100 * top) == 16
    bottom = np.mean(s < -1 + snr.step_size(4, 1.0))
    assert round(100 * (top + bottom)) == 32
    assert abs(snr.optimal_clip("gaussian", 2, model="exact") - 1.99) < 0.01
    lsb = snr.step_size(8, 1.0)
    x = 0.7 * lsb * np.sin(2 * np.pi * (1 / 64 + 0.37 / 4096) * np.arange(4096))
    assert list(np.unique(signals.adc(x, 8)) / lsb) == [-0.5, 0.5]
    p = {k: np.mean((signals.adc(x, 8, dither=k, seed=0) - x) ** 2) / (lsb**2 / 12) for k in (None, "tpdf")}
    assert abs(p[None] - 0.59) < 0.01 and abs(p["tpdf"] - 2.96) < 0.01
    # "3rd and 5th harmonics stand out" without dither, dissolve into a flat floor with TPDF dither
    f0, w = 1 / 64 + 0.37 / 4096, np.hanning(x.size)

    def harmonic_db(y, h):
        spec = np.abs(np.fft.rfft((y - x) * w)) ** 2
        k = round(h * f0 * x.size)
        return 10 * np.log10(spec[k - 2:k + 3].max() / np.median(spec))

    for h in (3, 5):
        assert harmonic_db(signals.adc(x, 8), h) > 30 > 10 > harmonic_db(signals.adc(x, 8, dither="tpdf", seed=0), h)
    # the Gaussian clipped at 4 sigma follows its line at 8 bits; Laplace flattens earlier
    assert abs(snr.noise_decomposition(g, 8, 4.0)["sqnr_db"] - snr.gaussian_sqnr_db(8, 4)) < 0.5
    lap = snr.sample_distribution("laplace", 200_000, seed=0)
    assert (snr.noise_decomposition(lap, 16, 4.0)["sqnr_db"] - snr.noise_decomposition(lap, 8, 4.0)["sqnr_db"]
            < snr.noise_decomposition(g, 16, 4.0)["sqnr_db"] - snr.noise_decomposition(g, 8, 4.0)["sqnr_db"])
