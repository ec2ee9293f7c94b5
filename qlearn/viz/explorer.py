"""The one way widgets are built: controls + a FigureWidget + a text readout, in a VBox.

An explorer's callback maps control values to core calls and assigns trace data;
it never rebuilds the figure. Errors the core raises on purpose (``ValueError`` for
a combination the maths does not allow, such as 1-bit signed symmetric codes) are
shown in the readout instead of escaping: a widget never raises.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from copy import deepcopy

import ipywidgets as widgets
import plotly.graph_objects as go

#: The MIME type of an explorer's server-rendered preview (see :meth:`Explorer.preview`).
PREVIEW_MIME = "application/vnd.qlearn.preview+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _control_label(name: str, control) -> str:
    return str(getattr(control, "description", "") or name)


def _control_value(control) -> str:
    """A control's current value as a reader sees it (a dropdown's label, a checkbox's tick)."""
    label = getattr(control, "label", None)
    if isinstance(label, str):
        return label
    value = getattr(control, "value", "")
    if isinstance(value, bool):
        return "\u2713" if value else "\u2717"
    if isinstance(value, float):
        fmt = getattr(control, "readout_format", None)
        try:
            return format(value, fmt) if fmt else f"{value:g}"
        except (TypeError, ValueError):
            return f"{value:g}"
    if isinstance(value, tuple):
        return " \u2013 ".join(str(v) for v in value)
    return str(value)


def figure_preview(figures, *, controls=(), readout: str = "") -> dict:
    """The JSON a page draws before the live widgets arrive (see :meth:`Explorer.preview`)."""
    import json

    import plotly.io as pio

    specs = []
    for fig in figures:
        # remove_uids=False: plotly's default pops "uid" from the dicts it is given, here the live
        # figure's own state, and the browser then reports its changes under ids the kernel does
        # not know (an error in the kernel on every redraw)
        spec = json.loads(pio.to_json({"data": fig._widget_data, "layout": fig._widget_layout},
                                      validate=False, remove_uids=False, engine="json"))
        spec["config"] = dict(fig._config or {})
        specs.append(spec)
    return {"controls": [list(c) for c in controls], "figures": specs, "readout": readout or ""}


def sync_figure(fig) -> None:
    """Copy a FigureWidget's current traces and layout into the state a new browser view starts
    from (see :meth:`Explorer.sync_figure_state`)."""
    fig._widget_layout = deepcopy(fig._layout_obj._props)
    fig._widget_data = deepcopy(fig._data)


def ignore_browser_defaults(fig) -> None:
    """Stop ``fig`` (a FigureWidget) from taking in the defaults the browser fills in after each
    redraw: plotly.js reports every trace's and the layout's computed defaults (~10-20 kB) after
    every update, and plotly's Python side merges them into the figure, work on the learner's kernel
    between two slider steps that no explorer reads, and which raises inside plotly for some traces
    (``if not input_val`` on a NumPy array, plotly.py issue 4160), an error on every redraw.
    The reports still arrive; nothing handles them."""
    from plotly.basewidget import BaseFigureWidget

    for name in ("_js2py_traceDeltas", "_js2py_layoutDelta"):
        try:
            fig.unobserve(BaseFigureWidget.__dict__[f"_handler{name}"], names=name)
        except ValueError:  # already ignored (a figure shown in two boxes)
            pass


def figure_widgets(widget) -> list:
    """Every plotly FigureWidget in ``widget`` and the boxes inside it (``widget`` itself included)."""
    from plotly.basewidget import BaseFigureWidget

    found, stack = [], [widget]
    while stack:
        w = stack.pop()
        if isinstance(w, BaseFigureWidget):
            found.append(w)
        stack.extend(getattr(w, "children", ()) or ())
    return found


class FigureBox(widgets.VBox):
    """A figure with no controls (``ql.viz.widget``): a FigureWidget in a box that, like an
    explorer, sends a server-rendered preview with its widget view."""

    def __init__(self, fig):
        from qlearn.viz.style import make_responsive

        self.fig = make_responsive(fig)
        ignore_browser_defaults(fig)
        super().__init__([fig])

    def _repr_mimebundle_(self, **kwargs):
        sync_figure(self.fig)
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict) and WIDGET_VIEW in bundle:
            bundle[PREVIEW_MIME] = figure_preview([self.fig])
        return bundle


class Explorer(widgets.VBox):
    """Controls, a figure and a readout. Displays itself (it is a VBox).

    Parameters
    ----------
    controls : dict[str, ipywidgets.Widget]
        Named controls; ``explorer.controls["bits"].value = 4`` drives it from code.
    fig : plotly.graph_objects.FigureWidget or None
    update : callable(values: dict) -> str | None
        Called with ``{name: control.value}`` whenever a control changes; assigns
        trace data and returns the readout text (HTML) or None.
    """

    def __init__(self, controls: dict, fig: go.FigureWidget | None, update: Callable,
                 *, readout: bool = True, extra: list | None = None):
        self.controls = dict(controls)
        self.fig = fig
        self._update = update
        self.readout = widgets.HTML(layout=widgets.Layout(min_height="1.6em"))
        self.last_error: str | None = None
        rows = [widgets.HBox(list(self.controls.values()),
                             layout=widgets.Layout(flex_flow="row wrap"))]
        if fig is not None:
            rows.append(fig)
        if extra:
            rows.extend(extra)
        if readout:
            rows.append(self.readout)
        super().__init__(rows)
        self.add_class("qlearn-explorer")  # browser tests find explorers by this class
        from qlearn.viz.style import make_responsive

        for f in self.figures():
            make_responsive(f)
            ignore_browser_defaults(f)
        for c in self.controls.values():
            c.observe(self.refresh, names="value")
        self.refresh()
        self.sync_figure_state()

    def figures(self) -> list:
        """Every plotly FigureWidget inside this explorer (its figure and any in ``extra``)."""
        return figure_widgets(self)

    def sync_figure_state(self) -> None:
        """Copy each figure's current traces and layout into the state a new view starts from.

        A FigureWidget sends later changes as messages; a browser view created afterwards (Voila
        renders a page after the notebook has run) starts from the synced ``_widget_data`` /
        ``_widget_layout``, which plotly refreshes only when the figure itself is displayed, not
        when it sits inside a box. Without this the first update is lost and Voila shows empty axes.
        """
        for fig in self.figures():
            sync_figure(fig)

    def _repr_mimebundle_(self, **kwargs):
        self.sync_figure_state()
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict) and WIDGET_VIEW in bundle:
            bundle[PREVIEW_MIME] = self.preview()
        return bundle

    def preview(self) -> dict:
        """What the page shows of this explorer before its live widgets arrive: JSON-ready.

        The ``qlearn`` Voila template draws it at once, server-rendered, with the same plotly.js
        module the live figure uses, and swaps in the live explorer when its figures are drawn
        (``qlearn.serve`` documents the route). Front ends that do not know the MIME type
        (JupyterLab, nbconvert) pick the widget view and ignore it.

        Returns
        -------
        dict
            ``{"controls": [[label, value text], ...], "figures": [{"data", "layout", "config"}],
            "readout": html}``, figures in the order they appear in the explorer.
        """
        controls = [[_control_label(name, c), _control_value(c)] for name, c in self.controls.items()]
        return figure_preview(self.figures(), controls=controls, readout=self.readout.value)
    @property
    def values(self) -> dict:
        return {k: c.value for k, c in self.controls.items()}

    def refresh(self, _=None) -> None:
        """Recompute from the current control values (called by every control change)."""
        try:
            if self.fig is not None:
                with self.fig.batch_update():
                    text = self._update(self.values)
            else:
                text = self._update(self.values)
        except ValueError as exc:  # a combination the maths rules out: say so, keep the old figure
            self.last_error = str(exc)
            self.readout.value = f"<span style='color:#b00020'>&#9888; {html.escape(str(exc))}</span>"
            return
        self.last_error = None
        if text is not None:
            self.readout.value = text
