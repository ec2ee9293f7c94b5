"""The course's one data set: the 8x8 handwritten digits, shipped inside qlearn.

Introduced in lesson ``07_per_channel``; lessons 07-13 carry one small network
(:mod:`qlearn.networks.nn`) trained on these digits from lesson to lesson.

The 1797 images are the UCI "Optical Recognition of Handwritten Digits" test set
(Alpaydin & Kaynak 1998) as distributed by scikit-learn (``sklearn.datasets.load_digits``),
converted once into ``qlearn/data/digits.npz`` (see ``qlearn/data/README.md``): uint8
pixels 0..16 and the labels, plus a fixed, stratified train/test split and a
calibration subset of the training set, so nothing is downloaded at run time and
scikit-learn is not a dependency.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

DATA_DIR = Path(__file__).parents[1] / "data"
DIGITS_FILE = DATA_DIR / "digits.npz"
#: SHA-256 of the shipped file; :func:`load_digits` refuses a file that does not match.
DIGITS_SHA256 = "7b44f7e72548a70b44230a334cfb126260567469f8189912a2a17ed96f8cc868"
N_CLASSES = 10
N_PIXELS = 64
PIXEL_MAX = 16  # the UCI images count set pixels in 4x4 blocks: 0..16


class Digits(NamedTuple):
    """Train/test split of the 8x8 digits, pixels scaled to [0, 1], shape ``(n, 64)``.

    ``X_calib`` is a fixed subset (256 images) of ``X_train`` for post-training
    calibration: the images a deployment would see before it runs.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_calib: np.ndarray


def file_sha256(path=DIGITS_FILE) -> str:
    """SHA-256 hex digest of a file (used to check the shipped data)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def _raw():
    if file_sha256(DIGITS_FILE) != DIGITS_SHA256:
        raise RuntimeError(f"{DIGITS_FILE} does not match its checksum: reinstall qlearn")
    with np.load(DIGITS_FILE) as f:
        return {k: f[k] for k in f.files}


def load_digits() -> Digits:
    """The 8x8 digits: a fixed stratified split (1258 train, 539 test) and 256 calibration images.

    Introduced in lesson ``07_per_channel``.

    Returns
    -------
    Digits
        ``X_*`` float64 in [0, 1] (pixel / 16), shape ``(n, 64)``; ``y_*`` int64 labels 0..9.
        Fresh arrays on every call: changing them does not change the next call's.

    Notes
    -----
    The split was drawn once, per class (70 % train / 30 % test), from
    ``numpy.random.default_rng(20160101)`` and is stored in the file, so it does
    not depend on the numpy version.

    Examples
    --------
    >>> d = load_digits()
    >>> d.X_train.shape, d.X_test.shape, d.X_calib.shape
    ((1258, 64), (539, 64), (256, 64))
    >>> float(d.X_train.min()), float(d.X_train.max())
    (0.0, 1.0)
    """
    raw = _raw()
    X = raw["images"].astype(np.float64) / PIXEL_MAX
    y = raw["labels"].astype(np.int64)
    tr, te, ca = (raw[k].astype(np.int64) for k in ("train_idx", "test_idx", "calib_idx"))
    return Digits(X[tr], y[tr], X[te], y[te], X[ca])


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 images as uint8 ``(n, 8, 8)`` pixels 0..16, and their labels (for drawing)."""
    raw = _raw()
    return raw["images"].reshape(-1, 8, 8).copy(), raw["labels"].astype(np.int64)
