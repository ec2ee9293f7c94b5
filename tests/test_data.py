"""qlearn.networks.data: the shipped digits, their split and their checksum."""
import hashlib

import numpy as np
import pytest

from qlearn.networks import data


def test_checksum_of_shipped_file():
    digest = hashlib.sha256(data.DIGITS_FILE.read_bytes()).hexdigest()
    assert digest == data.DIGITS_SHA256
    assert data.DIGITS_FILE.stat().st_size < 300_000


def test_shapes_and_dtypes():
    d = data.load_digits()
    assert d.X_train.shape == (1258, 64) and d.X_test.shape == (539, 64) and d.X_calib.shape == (256, 64)
    assert d.y_train.shape == (1258,) and d.y_test.shape == (539,)
    assert d.X_train.dtype == np.float64 and d.y_train.dtype == np.int64
    assert len(d.X_train) + len(d.X_test) == 1797  # the UCI optdigits set shipped by scikit-learn


def test_pixel_range_is_sixteenths():
    d = data.load_digits()
    for X in (d.X_train, d.X_test, d.X_calib):
        assert X.min() == 0.0 and X.max() == 1.0
        np.testing.assert_array_equal(X * 16, np.round(X * 16))


def test_split_is_stratified_disjoint_and_calib_inside_train():
    images, labels = data.load_digit_images()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and images.max() == 16
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 1797 and counts.min() >= 170  # about 180 of each digit
    d = data.load_digits()
    # each class contributes round(0.3 * count) test images (the documented 70/30 split per class)
    np.testing.assert_array_equal(np.bincount(d.y_test, minlength=10), np.round(0.3 * counts).astype(int))
    np.testing.assert_array_equal(np.bincount(d.y_train, minlength=10) + np.bincount(d.y_test, minlength=10), counts)
    train_rows = {r.tobytes() for r in d.X_train}
    test_idx = data._raw()["test_idx"]
    train_idx = data._raw()["train_idx"]
    assert not set(test_idx.tolist()) & set(train_idx.tolist())
    assert all(r.tobytes() in train_rows for r in d.X_calib)


def test_determinism_and_fresh_arrays():
    a, b = data.load_digits(), data.load_digits()
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    a.X_train[:] = -1.0
    assert data.load_digits().X_train.min() == 0.0


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "digits.npz"
    raw = bytearray(data.DIGITS_FILE.read_bytes())
    raw[-1] ^= 0xFF  # flip one byte
    bad.write_bytes(bytes(raw))
    monkeypatch.setattr(data, "DIGITS_FILE", bad)
    data._raw.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="checksum"):
            data.load_digits()
    finally:
        monkeypatch.undo()
        data._raw.cache_clear()
