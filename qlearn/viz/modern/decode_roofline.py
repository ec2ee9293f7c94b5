"""Explorer for lesson 18's "Where it runs": speed-up over FP16 of each storage/compute scheme vs batch."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from qlearn.modern import decode_roofline as dr
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import CYCLE, base_layout

BATCHES = np.unique(np.round(np.logspace(0, 13, 60, base=2)).astype(int))


def decode_roofline_explorer() -> Explorer:
    """Lines: FP16 time / scheme time for a ``d x d`` layer over the batch (tokens per step), on the
    example chip with an adjustable bandwidth; a marker at the chosen batch with its bound in the readout."""
    fig = go.Figure()
    for i, s in enumerate(dr.SCHEMES):
        dash = "dot" if s.compute == "fp16" and i else ("dash" if s.compute == "fp8" else "solid")
        fig.add_scatter(x=BATCHES, y=np.ones(BATCHES.size), mode="lines", name=s.name,
                        line=dict(color=CYCLE[i % len(CYCLE)], width=5 if s.compute == "int8" else 2.5,
                                  dash=dash))
    fig.add_scatter(x=[1], y=[1], mode="markers", name="chosen batch", marker=dict(size=11, color="black"),
                    showlegend=False)
    base_layout(fig, height=440, xaxis_title="batch (tokens per step)",
                yaxis_title="speed-up over FP16")
    fig.update_xaxes(type="log")
    fig.update_yaxes(range=[0, 4.6])
    fig.update_layout(legend=dict(orientation="h", x=0, y=1.02, xanchor="left", yanchor="bottom"),
                      margin=dict(t=90))
    controls = {
        "batch": C.dropdown("batch", [1, 4, 16, 64, 256, 1024, 4096], 1),
        "d": C.dropdown("layer", [("1024 x 1024", 1024), ("4096 x 4096 (7B model)", 4096),
                                  ("8192 x 8192", 8192)], 4096),
        "bw": C.dropdown("memory", [("0.5 TB/s", 0.5e12), ("2 TB/s", 2e12), ("8 TB/s", 8e12)], 2e12),
    }

    def update(v):
        chip = dr.Chip("example", v["bw"], dr.EXAMPLE_CHIP.peak)
        sp = dr.speedups(BATCHES, v["d"], v["d"], chip)
        for i, s in enumerate(dr.SCHEMES):
            fig.data[i].y = sp[s.name]
        at = dr.speedups([v["batch"]], v["d"], v["d"], chip)
        w4 = dr.SCHEMES[2]
        fig.data[-1].x = [v["batch"]]
        fig.data[-1].y = [float(at[w4.name][0])]
        t = {s.name: dr.layer_time(v["batch"], v["d"], v["d"], s, chip) for s in dr.SCHEMES}
        return (f"batch {v['batch']}: FP16 layer {t[dr.SCHEMES[0].name]['time_s'] * 1e6:.1f} µs "
                f"({t[dr.SCHEMES[0].name]['bound']} bound); W4A16 <b>{at[w4.name][0]:.2f}x</b> "
                f"({t[w4.name]['bound']} bound), W8A8 {at[dr.SCHEMES[3].name][0]:.2f}x "
                f"(FP8 the same on this chip: its 8-bit peak equals int8's), NVFP4 {at[dr.SCHEMES[5].name][0]:.2f}x. "
                f"W4A16 turns compute bound from batch "
                f"{dr.crossover_batch(w4, v['d'], v['d'], chip)}.")

    fig = go.FigureWidget(fig)
    return Explorer(controls, fig, update)
