"""Every figure lessons 07-10 and 13 state holds on any CPU: the float arithmetic is perturbed here.

A machine whose BLAS kernel differs (AVX2 vs AVX-512 vs ARM, another thread count) sums
float products in another order. qlearn's evaluation does not depend on that order:
integer layers run in integer arithmetic and float layers in
``qlearn.networks.nn.fixed_order_matmul``. These tests stand in for such a machine:

1. ``fixed_order_matmul`` itself is swapped for other valid summation orders (BLAS,
   reversed, numpy's pairwise ``sum``): the evaluated figures must not move, which shows
   no stated figure sits on a float knife edge of the float path either;
2. every float weight (and every float-derived shipped range) is moved by one ulp
   (``np.nextafter``, random direction): the figures must not move;
3. the BLAS product training uses (``qlearn.networks.nn.train_matmul``) is swapped for a different
   summation order: figures from a training run must stay within the tolerance the
   lessons state for them.

No OPENBLAS variable is set anywhere.
"""
import numpy as np
import pytest

from qlearn.networks import nn, ptq, qat
from qlearn.networks.data import load_digits
from qlearn.numbers import nonuniform as nu

D = load_digits()
N_TEST = len(D.y_test)


def images(acc):
    """An accuracy on the 539 test images as a whole number of images."""
    return int(round(acc * N_TEST))


def lesson_figures():
    """The evaluated (not trained) figures of lessons 07, 08, 09, 10 and 13, freshly computed.

    Accuracies and agreements as whole test images; calibrated clip values as the
    lessons print them (2 decimals) and exactly (for a relative comparison).
    """
    m = nn.pretrained()
    f = {"float": images(m.accuracy(D.X_test, D.y_test))}
    # lesson 07: weight-only per-tensor / per-channel curves
    for pc in (False, True):
        for b, a in zip([2, 3, 4, 5, 6, 8], ptq.accuracy_vs_bits(m, D, [2, 3, 4, 5, 6, 8], per_channel=pc),
                        strict=True):
            f[f"07 weight_only b{b} pc{pc}"] = images(a)
    # lesson 08: every mode at 8 bits, calibrators at 4 bits, layer sensitivity
    for mode in ptq.PTQ_MODES:
        r = ptq.evaluate(ptq.quantize_model(m, mode=mode, bits=8, calib_data=D.X_calib), D, m)
        f[f"08 {mode} acc"], f[f"08 {mode} agree"] = images(r["accuracy"]), images(r["agreement"])
    for cal in ptq.CALIBRATIONS:
        q = ptq.quantize_model(m, mode="full_integer", bits=4, calibration=cal, calib_data=D.X_calib)
        f[f"08 int4 {cal}"] = images(q.accuracy(D.X_test, D.y_test))
        f[f"08 int4 {cal} clip"] = [round(float(L.act_qp.range[1]), 2) for L in q.layers]
        f[f"08 int4 {cal} clip exact"] = [float(L.act_qp.range[1]) for L in q.layers]
    for i, a in enumerate(ptq.layer_sensitivity(m, D, mode="weight_only", bits=2)):
        f[f"08 sensitivity layer {i}"] = images(a)
    # lesson 09: PTQ vs the shipped QAT models
    for bits, pc in qat.QAT_CONFIGS:
        p = ptq.quantize_model(m, mode="full_integer", bits=bits, per_channel=pc, calib_data=D.X_calib)
        f[f"09 ptq b{bits} pc{pc}"] = images(p.accuracy(D.X_test, D.y_test))
        f[f"09 qat b{bits} pc{pc}"] = images(qat.pretrained_qat(bits, pc).accuracy(D.X_test, D.y_test))
    # lesson 09: the regularization study's row for seed 0 (the shipped model) re-evaluated, and the
    # figures the lesson reads from the shipped studies (loaded, so only the evaluation above can move)
    study = ptq.load_regularization_study()
    f["09 study seed 0 re-evaluated"] = [
        images(ptq.quantize_model(m, mode="full_integer", bits=int(b), calib_data=D.X_calib)
               .accuracy(D.X_test, D.y_test)) for b in study["bits"]]
    f["09 study seed 0 shipped"] = [images(a) for a in study["ptq_accuracy"][0]]
    f["09 noise study"] = np.round(qat.load_noise_study()["accuracy"] * N_TEST).astype(int).tolist()
    # lesson 10: codes applied after training
    for key in [("uniform", 2), ("kmeans", 2), ("kmeans", 4), ("log2", 3), ("log2", 4), ("log2", 5)]:
        f[f"10 {key}"] = images(nu.compress_model(m, *key).accuracy(D.X_test, D.y_test))
    for method, pc in (("binary", True), ("ternary", True), ("binary", False)):
        f[f"10 {method} pc{pc}"] = images(nu.compress_model(m, method, per_channel=pc).accuracy(D.X_test, D.y_test))
    f["10 kmeans centroids"] = np.round(nu.kmeans_codebook(m.layers[0].W, bits=2).centroids, 3).tolist()
    # lesson 13: the capstone's accuracy column (int8 full integer, entropy / mse, per-tensor / per-channel)
    for cal in ("entropy", "mse"):
        for pc in (False, True):
            q = ptq.quantize_model(m, mode="full_integer", bits=8, per_channel=pc, calibration=cal,
                                   calib_data=D.X_calib)
            f[f"13 {cal} pc{pc}"] = (images(q.accuracy(D.X_test, D.y_test)), images(q.agreement(D.X_test, m)))
            f[f"13 {cal} pc{pc} scales"] = np.round([L.act_qp.scale for L in q.layers], 5).tolist()
    return f


BASE = lesson_figures()


def assert_same(base, got):
    for k, v in base.items():
        if k.endswith("exact"):
            np.testing.assert_allclose(got[k], v, rtol=1e-12, err_msg=k)
        else:
            assert got[k] == v, f"{k}: {v} -> {got[k]}"


def blas_order(X, W):
    return np.asarray(X) @ np.asarray(W).T


def reversed_order(X, W):
    X, WT = np.asarray(X, dtype=np.float64), np.asarray(W, dtype=np.float64).T
    acc = X[:, -1:] * WT[-1]
    for k in range(WT.shape[0] - 2, -1, -1):
        acc = acc + X[:, k:k + 1] * WT[k]
    return acc


def pairwise_order(X, W):
    return (np.asarray(X)[:, None, :] * np.asarray(W)[None, :, :]).sum(axis=2)


def test_the_perturbed_products_really_differ_from_the_fixed_order():
    # the perturbations are not no-ops: on the course data they change the last bits
    m = nn.pretrained()
    X, W = D.X_train, m.layers[0].W
    ref = nn.fixed_order_matmul(X, W)
    for other in (blas_order, reversed_order, pairwise_order):
        got = other(X, W)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
        assert np.any(got != ref), other.__name__


def test_fixed_order_matmul_is_the_left_to_right_sum():
    # against Python floats summed left to right, one product at a time
    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(4, 9)), rng.normal(size=(3, 9))
    ref = [[0.0] * 3 for _ in range(4)]
    for i in range(4):
        for o in range(3):
            s = X[i, 0] * W[o, 0]
            for k in range(1, 9):
                s = s + X[i, k] * W[o, k]
            ref[i][o] = s
    np.testing.assert_array_equal(nn.fixed_order_matmul(X, W), np.array(ref))


@pytest.mark.parametrize("order", [blas_order, reversed_order, pairwise_order])
def test_figures_do_not_move_with_the_summation_order(monkeypatch, order):
    monkeypatch.setattr(nn, "fixed_order_matmul", order)
    assert_same(BASE, lesson_figures())


def test_mse_calibration_does_not_move_with_the_summation_order(monkeypatch):
    """MSE calibration picks the candidate clip with the least modelled MSE. Move every candidate's MSE by
    one ulp, alternately up and down (what another summation order could do): the chosen clips must not move."""
    from qlearn.ranges import observers
    original = observers.histogram_mse

    def one_ulp_apart(counts, edges, lo, hi, step):
        got = original(counts, edges, lo, hi, step)
        return np.nextafter(got, np.where(np.arange(got.size) % 2, np.inf, -np.inf))

    monkeypatch.setattr(observers, "histogram_mse", one_ulp_apart)
    assert_same(BASE, lesson_figures())


def _nudge(a, rng):
    """Every element one ulp up or down, at random."""
    a = np.asarray(a, dtype=np.float64)
    return np.nextafter(a, np.where(rng.random(a.shape) < 0.5, -np.inf, np.inf))


@pytest.mark.parametrize("seed", [0, 1])
def test_figures_do_not_move_with_one_ulp_on_every_float_weight(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    load_mlp, load_qat = nn.load_mlp, qat.load_qat_results

    def nudged_mlp(path):
        m = load_mlp(path)
        return nn.MLP([nn.Dense(_nudge(L.W, rng), _nudge(L.b, rng)) for L in m.layers])

    def nudged_qat():
        # weights, biases and the tracked ranges of layers 1 and 2 (they came out of float matmuls);
        # not act_max[0]: the pixels' range is exactly 1.0 on every machine (max of k/16, no sum),
        # and 1.0 is a knife edge by design: pixel 8/16 at scale 1/3 (2 bits) is exactly code 1.5
        out = {}
        for k, v in load_qat().items():
            if k.endswith("act_max"):
                v = np.concatenate([v[:1], _nudge(v[1:], rng)])
            elif v.dtype.kind == "f" and ("_W" in k or "_b" in k):
                v = _nudge(v, rng)
            out[k] = v
        return out

    monkeypatch.setattr(nn, "load_mlp", nudged_mlp)
    monkeypatch.setattr(qat, "load_qat_results", nudged_qat)
    assert not np.array_equal(nn.pretrained().layers[0].W, load_mlp(nn.PRETRAINED_FILE).layers[0].W)
    got = lesson_figures()
    assert_same(BASE, got)


def test_shipped_study_row_for_the_shipped_model_is_what_evaluation_gives():
    assert BASE["09 study seed 0 re-evaluated"] == BASE["09 study seed 0 shipped"]


def test_shipped_qat_models_evaluate_to_their_recorded_history():
    # the history's last entry was evaluated by the same integer path when the file was written
    for bits, pc in qat.QAT_CONFIGS:
        q = qat.pretrained_qat(bits, pc)
        assert q.accuracy(D.X_test, D.y_test) == q.history["test_accuracy"][-1]


def test_training_figures_stay_within_their_stated_tolerance(monkeypatch):
    """Lesson 09's 3-epoch run and lesson 10's binary training, with training's matmul summed differently."""
    m = nn.pretrained()
    base09 = qat.qat_finetune(m, D, bits=4, epochs=3, seed=0).history["test_accuracy"]
    base10 = nu.train_codes(m, D, method="binary", epochs=10, lr=1e-3, seed=0).history["test_accuracy"]
    monkeypatch.setattr(nn, "train_matmul", lambda A, B: reversed_order(A, np.asarray(B).T))
    run09 = qat.qat_finetune(m, D, bits=4, epochs=3, seed=0).history["test_accuracy"]
    run10 = nu.train_codes(m, D, method="binary", epochs=10, lr=1e-3, seed=0).history["test_accuracy"]
    for h in (base09, run09):
        # lesson 09: epoch 0 is PTQ (evaluated, exact); three epochs end at or above it, near float
        assert images(h[0]) == BASE["09 ptq b4 pcFalse"] and h[-1] >= h[0]
        assert abs(images(h[-1]) - BASE["float"]) <= 3  # lesson 09: "within 3 images of float"
    for h in (base10, run10):
        # lesson 10: from the untrained binary model (exact) to above 90% after one epoch and
        # about 96% after ten (stated as 96% +- 1 point)
        assert images(h[0]) == BASE["10 binary pcTrue"] and h[1] > 0.9 and abs(h[-1] - 0.96) <= 0.01
