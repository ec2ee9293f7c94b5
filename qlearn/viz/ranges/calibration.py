"""Figures and explorers for lesson ``04_histograms_calibration``.

Observers are fitted once per (distribution, bits) and cached: a slider only looks
results up and assigns trace data.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn._validate import as_finite_array
from qlearn.ranges import affine, metrics, observers, snr
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout

#: The distributions the calibration explorers offer: (label, sample kind).
DISTRIBUTIONS = [("Gaussian (weights)", "gaussian"), ("Laplace (weights)", "laplace"),
                 ("ReLU outputs (activations)", "relu"), ("tensor with outliers", "outliers")]
#: The four calibrators drawn on the histogram: (label, method, extra options, colour).
CALIBRATORS = [
    ("min/max", "minmax", {}, COLORS["dark"]),
    ("percentile 99.99", "percentile", {"percentile": 99.99}, COLORS["accent"]),
    ("MSE", "mse", {}, COLORS["error"]),
    ("entropy (KL)", "entropy", {}, COLORS["quant"]),
]


def _symmetric(kind: str) -> bool:
    return kind != "relu"  # ReLU outputs are >= 0: an asymmetric range uses every code


class _Cache:
    """Data and fitted calibrators per (distribution, bits).

    The first request for a distribution fits the calibrators at every bit width the
    explorer offers, so the bits slider afterwards only looks results up.
    """

    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed
        self.data, self.results = {}, {}

    def x(self, kind):
        if kind not in self.data:
            self.data[kind] = snr.sample_distribution(kind, self.n, seed=self.seed)
        return self.data[kind]

    def calib(self, kind, bits, all_bits=range(2, 9)):
        if (kind, bits) not in self.results:
            for b in sorted(set(all_bits) | {bits}):
                self._fit(kind, b)
        return self.results[(kind, bits)]

    def _fit(self, kind, bits):
        key = (kind, bits)
        if key not in self.results:
            x = self.x(kind)
            out = {}
            for label, method, opts, _ in CALIBRATORS:
                obs = observers.OBSERVERS[method](bits=bits, symmetric=_symmetric(kind), **opts).fit(x)
                qp = obs.qparams()
                lo, hi = qp.range
                e = affine.quantization_error(x, qp)
                out[label] = dict(lo=float(lo), hi=float(hi), mse=e["mse"], clipped=e["clipped_fraction"],
                                  sqnr=metrics.sqnr_db(x, affine.fake_quantize(x, qp)))
            self.results[key] = out


def _vline(lo, hi, top):
    return [lo, lo, None, hi, hi], [0, top, None, 0, top]


def calibration_explorer(*, n: int = 100_000, seed: int = 0, bits: int = 8) -> Explorer:
    """The four calibrators' clipping ranges drawn on the histogram of a chosen distribution.

    Readout: each calibrator's range, MSE, SQNR and clipped fraction at the chosen bit width.
    The calibrators are fitted at every bit width when a distribution is first shown
    (about half a second per distribution), then only looked up.
    """
    cache = _Cache(n, seed)
    bins = 200
    hists = {}

    def hist(kind):
        if kind not in hists:
            x = cache.x(kind)
            counts, edges = np.histogram(x, bins=bins)
            hists[kind] = ((edges[:-1] + edges[1:]) / 2, counts, float(edges[1] - edges[0]))
        return hists[kind]

    fig = go.FigureWidget()
    fig.add_bar(x=[], y=[], name="histogram", marker_color=COLORS["muted"], opacity=0.7)
    for label, _, _, colour in CALIBRATORS:
        fig.add_scatter(x=[], y=[], mode="lines", name=label, line=dict(color=colour, width=2.5))
    base_layout(fig, xaxis_title="value", yaxis_title="count (log)", height=400)
    fig.update_layout(bargap=0)
    fig.update_yaxes(type="log")
    controls = {
        "distribution": C.dropdown("distribution", DISTRIBUTIONS, "laplace"),
        "bits": C.int_slider("bits", min=2, max=8, value=bits),
    }

    def update(v):
        kind, b = v["distribution"], v["bits"]
        centres, counts, width = hist(kind)
        fig.data[0].x, fig.data[0].y = centres, counts
        fig.data[0].width = width
        top = float(counts.max()) * 2
        res = cache.calib(kind, b)
        rows = []
        for k, (label, _, _, _) in enumerate(CALIBRATORS):
            r = res[label]
            fig.data[k + 1].x, fig.data[k + 1].y = _vline(r["lo"], r["hi"], top)
            rows.append(f"<tr><td>{label}</td><td>[{r['lo']:.3g}, {r['hi']:.3g}]</td><td>{r['mse']:.2e}</td>"
                        f"<td>{r['sqnr']:.1f} dB</td><td>{100 * r['clipped']:.3f}%</td></tr>")
        best = min(res, key=lambda k: res[k]["mse"])
        return ("<table><tr><th>calibrator</th><th>range</th><th>MSE</th><th>SQNR</th><th>clipped</th></tr>"
                + "".join(rows) + f"</table>lowest MSE at {b} bits: <b>{best}</b>"
                + f" ({'symmetric' if _symmetric(kind) else 'asymmetric'} range)")

    return Explorer(controls, fig, update)


def clipping_curves(x, bits: int, clips) -> dict:
    """Granular (rounding), overload (clipping) and total MSE of ``x`` for each symmetric clip value.

    The same numbers as :func:`qlearn.ranges.snr.noise_decomposition` (the mid-rise quantizer with
    ``2**bits`` levels) called once per clip, computed for a block of clips at a time so that a
    slider that asks for a new bit width waits one frame-sized computation, not one per clip.

    Examples
    --------
    >>> c = clipping_curves([0.1, 0.3, 2.0], 2, [1.0])
    >>> d = snr.noise_decomposition([0.1, 0.3, 2.0], 2, 1.0)
    >>> bool(np.isclose(c["overload"][0], d["overload"]) and np.isclose(c["granular"][0], d["granular"]))
    True
    """
    a = as_finite_array(x, "x", allow_empty=False).ravel()
    c = np.asarray(clips, dtype=float).ravel()
    kmin, kmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    out = {"granular": np.empty(c.size), "overload": np.empty(c.size)}
    block = max(1, 100_000 // max(a.size, 1))
    for j in range(0, c.size, block):
        cc = c[j:j + block, None]
        step = np.array([snr.step_size(bits, float(v)) for v in cc[:, 0]])[:, None]
        e2 = a - step * (np.clip(np.floor(a / step), kmin, kmax) + 0.5)
        e2 *= e2
        inside = np.abs(a) <= cc
        out["granular"][j:j + block] = np.where(inside, e2, 0.0).sum(axis=1) / a.size
        out["overload"][j:j + block] = np.where(inside, 0.0, e2).sum(axis=1) / a.size
    out["total"] = out["granular"] + out["overload"]
    return out


def _unit_variance_scale(kind: str) -> float:
    """The ``scale`` of :mod:`qlearn.ranges.snr`'s densities for unit variance: sigma 1, Laplace b 1/sqrt 2."""
    return 1.0 if kind == "gaussian" else 1 / np.sqrt(2)


def clipping_explorer(*, n: int = 20_000, seed: int = 0, bits: int = 4) -> Explorer:
    """Rounding error vs clipping error as the clip moves: the trade every calibrator makes.

    Curves and the exact optimal clip are computed for every bit width when a distribution is
    first shown (about 0.3 s), then looked up: the bits and clip sliders only redraw.
    """
    clips = np.round(np.arange(0.5, 8.001, 0.05), 3)
    data = {k: snr.sample_distribution(k, n, seed=seed) for k in ("gaussian", "laplace")}
    cache = {}

    def curves(kind, b):
        if (kind, b) not in cache:
            for bb in range(controls["bits"].min, controls["bits"].max + 1):
                cache[(kind, bb)] = clipping_curves(data[kind], bb, clips)
                cache[(kind, bb, "exact")] = snr.optimal_clip(kind, bb, scale=_unit_variance_scale(kind),
                                                              model="exact")
        return cache[(kind, b)]

    fig = go.FigureWidget()
    for name, colour in (("granular (rounding)", COLORS["float"]), ("overload (clipping)", COLORS["clip"]),
                         ("total", COLORS["quant"])):
        fig.add_scatter(x=clips, y=np.ones_like(clips), mode="lines", name=name, line=dict(color=colour))
    fig.add_scatter(x=[], y=[], mode="markers", name="this clip", marker=dict(color=COLORS["dark"], size=10))
    fig.add_scatter(x=[], y=[], mode="markers", name="best clip",
                    marker=dict(color=COLORS["error"], size=14, symbol="star"))
    base_layout(fig, xaxis_title="clip at +- alpha (in standard deviations)", yaxis_title="MSE (log)", height=380)
    fig.update_yaxes(type="log", exponentformat="power")
    controls = {
        "distribution": C.dropdown("distribution", [("Gaussian", "gaussian"), ("Laplace", "laplace")], "gaussian"),
        "bits": C.int_slider("bits", min=2, max=8, value=bits),
        "clip": C.float_slider("clip alpha", min=0.5, max=8.0, value=3.0, step=0.05),
    }
    floor = 1e-12

    def update(v):
        kind, b = v["distribution"], v["bits"]
        cv = curves(kind, b)
        for i, k in enumerate(("granular", "overload", "total")):
            fig.data[i].y = np.maximum(cv[k], floor)
        j = int(np.argmin(np.abs(clips - v["clip"])))
        fig.data[3].x = [clips[j]] * 3
        fig.data[3].y = [max(cv[k][j], floor) for k in ("granular", "overload", "total")]
        best = int(np.argmin(cv["total"]))
        fig.data[4].x, fig.data[4].y = [clips[best]], [max(cv["total"][best], floor)]
        banner = snr.BANNER_2019_ALPHA[kind].get(b)
        note = f"; exact optimum for the {kind} density: {cache[(kind, b, 'exact')]:.2f}"
        note += (f"; Banner et al. 2019 (ACIQ) formula: {banner * _unit_variance_scale(kind):.2f}" if banner else "")
        return (f"alpha = {clips[j]:.2f}: granular {cv['granular'][j]:.2e} + overload {cv['overload'][j]:.2e}"
                f" = <b>{cv['total'][j]:.2e}</b><br>best clip on this sample: <b>{clips[best]:.2f}</b> std"
                + note)

    return Explorer(controls, fig, update)


def entropy_search_explorer(*, n: int = 200_000, seed: int = 0) -> Explorer:
    """TensorRT's KL search, one candidate threshold at a time (all candidates precomputed).

    Top: the reference distribution P (outliers folded into its last bin) and the
    candidate Q (quantized to 128 levels and expanded). Bottom: KL(P||Q) for every
    candidate, the current one and the minimum marked.
    """
    kinds = {}

    def prepare(kind):
        if kind not in kinds:
            x = snr.sample_distribution(kind, n, seed=seed)
            obs = observers.EntropyObserver(bits=8, symmetric=kind != "relu").fit(x)
            thr, kl = obs.kl_curve()
            kinds[kind] = dict(h=obs.hist_, edges=obs.bin_edges_, thr=thr, kl=kl, amax=obs.amax_)
        return kinds[kind]

    fig = go.FigureWidget(make_subplots(rows=2, cols=1, row_heights=[0.6, 0.4], vertical_spacing=0.14))
    fig.add_scatter(x=[], y=[], mode="lines", name="P: reference (outliers in last bin)",
                    line=dict(color=COLORS["float"], shape="hv"), row=1, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", name="Q: 128 levels, expanded",
                    line=dict(color=COLORS["quant"], shape="hv"), row=1, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", name="KL(P||Q)", line=dict(color=COLORS["dark"]), row=2, col=1)
    fig.add_scatter(x=[], y=[], mode="markers", name="this candidate", marker=dict(color=COLORS["clip"], size=10),
                    row=2, col=1)
    fig.add_scatter(x=[], y=[], mode="markers", name="least KL", marker=dict(color=COLORS["error"], size=14,
                    symbol="star"), row=2, col=1)
    base_layout(fig, height=520)
    fig.update_yaxes(type="log", title_text="probability", row=1, col=1, exponentformat="power")
    fig.update_yaxes(type="log", title_text="KL", row=2, col=1, exponentformat="power")
    fig.update_xaxes(title_text="|x|", row=1, col=1)
    fig.update_xaxes(title_text="threshold", row=2, col=1)
    controls = {
        "distribution": C.dropdown("distribution", DISTRIBUTIONS, "gaussian"),
        "candidate": C.int_slider("candidate i (bins)", min=128, max=2048, value=1024, step=8),
    }

    def update(v):
        d = prepare(v["distribution"])
        i = int(min(max(v["candidate"], 128), d["h"].size))
        P, Q = observers.kl_distributions(d["h"], i, 128)
        e = d["edges"]
        fig.data[0].x, fig.data[0].y = e[:i], np.where(P > 0, P, None)
        fig.data[1].x, fig.data[1].y = e[:i], np.where(Q > 0, Q, None)
        fin = np.isfinite(d["kl"])
        kl_plot = np.where(fin & (d["kl"] > 0), d["kl"], None)
        fig.data[2].x, fig.data[2].y = d["thr"], kl_plot
        k = i - 128
        cur = d["kl"][k]
        fig.data[3].x = [d["thr"][k]]
        fig.data[3].y = [cur if np.isfinite(cur) and cur > 0 else None]
        best = len(d["kl"]) - 1 - int(np.argmin(d["kl"][::-1]))
        fig.data[4].x, fig.data[4].y = [d["thr"][best]], [d["kl"][best] if d["kl"][best] > 0 else None]
        cur_txt = f"{cur:.3e}" if np.isfinite(cur) else "infinite (P has mass where Q is 0)"
        return (f"candidate i = {i}: threshold (i + 0.5) x bin width = {d['thr'][k]:.3f}, KL = {cur_txt}<br>"
                f"least KL at threshold <b>{d['thr'][best]:.3f}</b> (max |x| = {d['edges'][-1]:.3f})")

    return Explorer(controls, fig, update)


def channel_scaled_weights(out_features: int = 16, in_features: int = 256, *, seed: int = 0) -> np.ndarray:
    """A weight matrix ``W`` (out, in) whose output channels differ in scale by up to 40x."""
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(np.log(0.05), np.log(2.0), out_features))
    return rng.standard_normal((out_features, in_features)) * scales[:, None]


def per_channel_sqnr(W, bits: int) -> dict:
    """SQNR (dB) of each output channel of ``W`` with one scale per tensor and one per channel."""
    out = {}
    for name, axis in (("per-tensor", None), ("per-channel", 0)):
        qp = affine.minmax_qparams(W, bits=bits, symmetric=True, narrow_range=True, axis=axis)
        err = W - affine.fake_quantize(W, qp)
        with np.errstate(divide="ignore"):
            s = 10 * np.log10(np.sum(W**2, axis=1) / np.maximum(np.sum(err**2, axis=1), 1e-300))
        out[name] = np.minimum(s, 300.0)
    return out


def per_channel_range_explorer(*, out_features: int = 16, in_features: int = 256, seed: int = 0,
                               bits: int = 4) -> Explorer:
    """Per-tensor vs per-channel ranges on a weight matrix whose channels differ in scale."""
    W = channel_scaled_weights(out_features, in_features, seed=seed)
    amax = np.abs(W).max(axis=1)
    ch = np.arange(out_features)
    fig = go.FigureWidget(make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08))
    fig.add_bar(x=ch, y=amax, name="max |W| of the channel", marker_color=COLORS["muted"], row=1, col=1)
    fig.add_scatter(x=[-0.5, out_features - 0.5], y=[amax.max()] * 2, mode="lines", name="per-tensor range",
                    line=dict(color=COLORS["clip"], dash="dash"), row=1, col=1)
    fig.add_bar(x=ch, y=np.zeros(out_features), name="SQNR per-tensor", marker_color=COLORS["clip"], row=2, col=1)
    fig.add_bar(x=ch, y=np.zeros(out_features), name="SQNR per-channel", marker_color=COLORS["error"], row=2, col=1)
    base_layout(fig, height=480)
    fig.update_yaxes(title_text="range", type="log", row=1, col=1)
    fig.update_yaxes(title_text="SQNR (dB)", row=2, col=1)
    fig.update_xaxes(title_text="output channel", row=2, col=1)
    controls = {"bits": C.int_slider("bits", min=2, max=8, value=bits)}

    def update(v):
        s = per_channel_sqnr(W, v["bits"])
        fig.data[2].y = s["per-tensor"]
        fig.data[3].y = s["per-channel"]
        qmax = 2 ** (v["bits"] - 1) - 1
        used = np.floor(amax / (amax.max() / qmax)) * 2 + 1
        small = int(np.argmin(amax))
        return (f"mean SQNR: per-tensor <b>{s['per-tensor'].mean():.1f} dB</b>, per-channel "
                f"<b>{s['per-channel'].mean():.1f} dB</b>. With one scale, channel {small} (the smallest) uses "
                f"only {int(used[small])} of {2 * qmax + 1} levels.")

    return Explorer(controls, fig, update)
