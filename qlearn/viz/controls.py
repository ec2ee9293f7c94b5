"""The one control factory every explorer uses, so all sliders behave alike.

Sliders update continuously (the core calls behind explorers are cheap); pass
``continuous_update=False`` for controls whose recompute is not instant.
"""
from __future__ import annotations

import ipywidgets as widgets

_STYLE = {"description_width": "initial"}
_LAYOUT = dict(width="360px")


def int_slider(description: str, *, min: int, max: int, value: int, step: int = 1,
               continuous_update: bool = True) -> widgets.IntSlider:
    """An integer slider with the course's style."""
    return widgets.IntSlider(value=value, min=min, max=max, step=step, description=description,
                             continuous_update=continuous_update, style=_STYLE,
                             layout=widgets.Layout(**_LAYOUT))


def float_slider(description: str, *, min: float, max: float, value: float, step: float = 0.01,
                 readout_format: str = ".2f", continuous_update: bool = True) -> widgets.FloatSlider:
    """A float slider with the course's style."""
    return widgets.FloatSlider(value=value, min=min, max=max, step=step, description=description,
                               readout_format=readout_format, continuous_update=continuous_update,
                               style=_STYLE, layout=widgets.Layout(**_LAYOUT))


def range_slider(description: str, *, min: float, max: float, value: tuple, step: float = 0.05,
                 readout_format: str = ".2f", continuous_update: bool = True) -> widgets.FloatRangeSlider:
    """A two-handle float slider for a real range ``(lo, hi)``."""
    return widgets.FloatRangeSlider(value=value, min=min, max=max, step=step, description=description,
                                    readout_format=readout_format, continuous_update=continuous_update,
                                    style=_STYLE, layout=widgets.Layout(width="460px"))


def float_text(description: str, value: float = 0.0, *, continuous_update: bool = False) -> widgets.FloatText:
    """A number box (updates when the learner presses Enter or leaves the box)."""
    return widgets.FloatText(value=value, description=description, continuous_update=continuous_update,
                             style=_STYLE, layout=widgets.Layout(width="260px"))


def dropdown(description: str, options, value=None) -> widgets.Dropdown:
    """A dropdown; ``options`` is a list of values or of ``(label, value)`` pairs."""
    opts = list(options)
    if value is None:
        value = opts[0][1] if isinstance(opts[0], tuple) else opts[0]
    return widgets.Dropdown(options=opts, value=value, description=description, style=_STYLE,
                            layout=widgets.Layout(width="260px"))


def toggle(description: str, value: bool = False) -> widgets.Checkbox:
    """A checkbox."""
    return widgets.Checkbox(value=value, description=description, indent=False,
                            layout=widgets.Layout(width="auto"))


def buttons(description: str, options, value=None) -> widgets.ToggleButtons:
    """Mutually exclusive buttons, for a handful of modes."""
    opts = list(options)
    return widgets.ToggleButtons(options=opts, value=value if value is not None else
                                 (opts[0][1] if isinstance(opts[0], tuple) else opts[0]),
                                 description=description, style={"button_width": "auto", **_STYLE})
