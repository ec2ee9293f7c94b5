"""Explorers of lessons 07-10 driven in plain Python: set controls, check the figure data."""
import numpy as np
import plotly.graph_objects as go
import pytest

from qlearn.networks import ptq, qat
from qlearn.networks.data import load_digits
from qlearn.networks.nn import pretrained
from qlearn.numbers import nonuniform
from qlearn.ranges import affine
from qlearn.viz.networks import network as N
from qlearn.viz.numbers import nonuniform as U

M = pretrained()
D = load_digits()


def test_channel_sqnr_matches_metrics_and_caps_exact():
    W = np.array([[1.0, -0.5], [0.25, 0.0]])
    W_hat = np.array([[0.9, -0.5], [0.25, 0.0]])
    db = N.channel_sqnr_db(W, W_hat)
    assert db[0] == pytest.approx(10 * np.log10(1.25 / 0.01))
    assert db[1] == N.SQNR_CAP_DB  # exact row: capped, not inf


def test_per_channel_explorer_shows_the_layer_and_the_gain():
    ex = N.per_channel_explorer()
    for layer in range(3):
        ex.controls["layer"].value = layer
        for bits in (2, 4, 8):
            ex.controls["bits"].value = bits
            W = M.layers[layer].W
            r = np.sort(np.abs(W).max(axis=1))
            np.testing.assert_allclose(ex.fig.data[0].y, r)
            # per-channel scales never lose to a per-tensor scale on any row's SQNR by more than rounding luck,
            # and win on average (each row's grid is at least as fine)
            assert np.mean(ex.fig.data[3].y) > np.mean(ex.fig.data[2].y)
            assert ex.last_error is None
    assert "per-channel" in ex.readout.value


def test_ptq_explorer_reads_the_grid():
    g = ptq.load_ptq_grid()
    ex = N.ptq_explorer()
    ex.controls["mode"].value = "weight_only"
    ex.controls["bits"].value = 2
    ex.controls["per_channel"].value = True
    q = ptq.quantize_model(M, mode="weight_only", bits=2, per_channel=True)
    acc = q.accuracy(D.X_test, D.y_test)
    assert ex.fig.data[3].y[0] == pytest.approx(acc)
    assert f"{q.size_bytes:,} bytes" in ex.readout.value
    ex.controls["mode"].value = "bfloat16"
    assert np.ptp(ex.fig.data[1].y) == 0  # bits do not apply
    assert g["accuracy"].shape == (len(ptq.PTQ_MODES), 4, 2, 7)
    ex.controls["mode"].value = "dynamic_range"
    assert "no calibrator" in ex.readout.value


def test_ptq_grid_entries_recompute():
    g = ptq.load_ptq_grid()
    modes, cals, bits = list(g["modes"]), list(g["calibrations"]), list(g["bits"])
    for mode, cal, pc, b in [("full_integer", "minmax", 0, 4), ("full_integer", "entropy", 1, 3),
                             ("weight_only", "minmax", 1, 2), ("float16", "minmax", 0, 8),
                             ("dynamic_range", "mse", 0, 3), ("full_integer", "mse", 0, 2)]:
        q = ptq.quantize_model(M, mode=mode, bits=b, per_channel=bool(pc), calibration=cal, calib_data=D.X_calib)
        idx = modes.index(mode), cals.index(cal), pc, bits.index(b)
        # same code, same data, evaluated in integers / a fixed summation order: identical
        assert g["accuracy"][idx] == q.accuracy(D.X_test, D.y_test)
        assert g["agreement"][idx] == q.agreement(D.X_test, M)
        assert g["size_bytes"][idx] == q.size_bytes


def test_ste_explorer_forward_and_backward():
    ex = N.ste_explorer()
    ex.controls["bits"].value = 2
    ex.controls["clip"].value = 1.0
    qp = affine.compute_qparams(-1.0, 1.0, bits=2, symmetric=True, narrow_range=True)
    xv, yv = affine.staircase_vertices(-2.0, 2.0, qp)  # drawn exactly (tested in test_affine.py)
    np.testing.assert_array_equal(ex.fig.data[1].x, xv)
    np.testing.assert_array_equal(ex.fig.data[1].y, yv)
    assert set(np.unique(ex.fig.data[1].y)) == {-1.0, 0.0, 1.0}
    # the STE gradient, a step function drawn with shape "hv": 1 from the first point where the
    # code is not clipped, 0 again from the first where it is. Levels -1, 0, 1 with step 1: codes
    # stay unclipped for |x| < 1.5
    gx, g = np.asarray(ex.fig.data[3].x), np.asarray(ex.fig.data[3].y)
    assert ex.fig.data[3].line.shape == "hv"
    assert g.tolist() == [0.0, 1.0, 0.0, 0.0]
    assert gx[0] == -2.0 and -1.51 < gx[1] < -1.49 and 1.49 < gx[2] < 1.51 and gx[3] == 2.0
    grid = np.linspace(-2.0, 2.0, 1601)
    np.testing.assert_array_equal(g[np.searchsorted(gx, grid, side="right") - 1], qat.ste_grad(grid, qp))


def test_qat_explorer_scrubs_the_shipped_runs():
    r = qat.load_qat_results()
    ex = N.qat_explorer()
    ex.controls["bits"].value = 4
    ex.controls["per_channel"].value = True
    ex.controls["epoch"].value = 3
    np.testing.assert_array_equal(ex.fig.data[2].y, r["b4_pc_test_accuracy"])
    assert ex.fig.data[3].y[0] == r["b4_pc_test_accuracy"][3]
    assert isinstance(N.regularization_figure(), go.Figure)


def test_codebook_explorer_levels():
    ex = U.codebook_explorer()
    ex.controls["layer"].value = 1
    ex.controls["method"].value = "kmeans"
    ex.controls["bits"].value = 3
    cb = nonuniform.kmeans_codebook(M.layers[1].W, 3)
    np.testing.assert_allclose(ex.fig.data[1].x, cb.centroids, atol=1e-11)
    assert sum(ex.fig.data[1].y) == M.layers[1].W.size
    ex.controls["method"].value = "binary"
    alpha, _ = nonuniform.binarize(M.layers[1].W)
    assert len(ex.fig.data[1].x) == len(np.unique(np.round(np.concatenate([alpha, -alpha]), 12)))
    ex.controls["method"].value = "log2"
    ex.controls["bits"].value = 2
    assert len(ex.fig.data[1].x) <= 3
    assert ex.last_error is None


def test_per_channel_sqnr_gain_matches_the_step_size_prediction():
    """Lesson 07: noise power ~ step**2, so row c gains 20 log10(max r / r_c) dB with its own scale."""
    W0 = M.layers[0].W
    r = np.abs(W0).max(axis=1)
    predicted = np.mean(20 * np.log10(r.max() / r))
    for bits in (4, 8):
        sq = {pc: N.channel_sqnr_db(W0, affine.fake_quantize(W0, ptq.weight_qparams(W0, bits=bits, per_channel=pc)))
              for pc in (False, True)}
        assert abs((sq[True] - sq[False]).mean() - predicted) < 0.3
    sq4 = {pc: N.channel_sqnr_db(W0, affine.fake_quantize(W0, ptq.weight_qparams(W0, bits=4, per_channel=pc)))
           for pc in (False, True)}
    assert round(sq4[False].mean(), 1) == 16.3 and round(sq4[True].mean(), 1) == 19.5  # the lesson's figures
    assert round(r.min(), 2) == 0.37 and round(r.max(), 2) == 0.87 and round(7 * r.min() / r.max()) == 3


def test_progress_bar_is_a_training_callback():
    bar = N.progress("test")
    bar({"epoch": 2, "epochs": 5})
    assert bar.value == 2 and bar.max == 5
    bar(3, 4)
    assert bar.value == 3 and bar.max == 4
    seen = N.progress()
    qat.qat_finetune(M, D, bits=8, epochs=1, callback=seen)
    assert seen.value == 1 and seen.max == 1
