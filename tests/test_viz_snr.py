"""Explorers of lesson 05 (qlearn.viz.ranges.snr), driven in plain Python."""
import numpy as np
import pytest

from qlearn.numbers import signals
from qlearn.ranges import snr
from qlearn.viz.ranges import snr as V


def test_sqnr_table_is_noise_decomposition_vectorised():
    x = snr.sample_distribution("laplace", 3000, seed=1)
    t = V.sqnr_table(x, [2, 5, 9], [1.0, 3.5])
    for i, c in enumerate([1.0, 3.5]):
        for j, b in enumerate([2, 5, 9]):
            assert t[i, j] == pytest.approx(snr.noise_decomposition(x, b, c)["sqnr_db"], abs=1e-9)


def test_sqnr_bits_explorer_lines():
    ex = V.sqnr_bits_explorer(n=4096)
    ex.controls["clip"].value = "full"
    sine = np.array(ex.fig.data[0].y)
    uni = np.array(ex.fig.data[1].y)
    bits = np.arange(1, 17)
    # a full-scale sine and a full-range uniform signal: the textbook lines (within the finite-N gap)
    assert np.all(np.abs(sine[8:] - (6.0206 * bits[8:] + 1.7609)) < 0.2)
    assert np.all(np.abs(uni[8:] - 6.0206 * bits[8:]) < 0.2)
    ex.controls["clip"].value = "k"
    ex.controls["k"].value = 2.0
    gauss = np.array(ex.fig.data[2].y)
    assert gauss[-1] - gauss[-5] < 1.0  # clipped at 2 sigma: extra bits stop helping
    assert list(ex.fig.data[5].y)[7] == pytest.approx(snr.clipped_sqnr_db(8, 2.0))
    ex.controls["clip"].value = "best"
    best = np.array(ex.fig.data[2].y)
    assert np.all(best >= gauss - 1e-9)  # the best clip is at least as good as 2 sigma
    assert ex.fig.data[5].visible is False


def test_dither_explorer_removes_harmonics():
    ex = V.dither_explorer()
    ex.controls["amplitude"].value = 0.7
    ex.controls["dither"].value = "none"
    y = np.array(ex.fig.data[1].y)
    assert set(np.unique(y)) <= {-0.5, 0.5}  # a 0.7 LSB sine becomes a square wave
    plain = ex.readout.value
    ex.controls["dither"].value = "tpdf"
    assert len(np.unique(np.array(ex.fig.data[1].y))) > 2
    assert "correlation" in plain and plain != ex.readout.value
    p = np.array(ex.fig.data[2].y)
    assert np.all(np.isfinite(p)) and p.min() >= -150
    x = 0.7 * 2 / 256 * np.sin(2 * np.pi * (1 / 64 + 0.37 / 4096) * np.arange(4096))
    np.testing.assert_allclose(np.array(ex.fig.data[1].y), signals.adc(x, 8, dither="tpdf", seed=0)[:200] / (2 / 256))
