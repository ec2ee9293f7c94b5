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
        for c in self.controls.values():
            c.observe(self.refresh, names="value")
        self.refresh()
        self.sync_figure_state()

    def figures(self) -> list:
        """Every plotly FigureWidget inside this explorer (its figure and any in ``extra``)."""
        from plotly.basewidget import BaseFigureWidget

        found, stack = [], [self]
        while stack:
            w = stack.pop()
            if isinstance(w, BaseFigureWidget):
                found.append(w)
            stack.extend(getattr(w, "children", ()) or ())
        return found

    def sync_figure_state(self) -> None:
        """Copy each figure's current traces and layout into the state a new view starts from.

        A FigureWidget sends later changes as messages; a browser view created afterwards (Voila
        renders a page after the notebook has run) starts from the synced ``_widget_data`` /
        ``_widget_layout``, which plotly refreshes only when the figure itself is displayed, not
        when it sits inside a box. Without this the first update is lost and Voila shows empty axes.
        """
        for fig in self.figures():
            fig._widget_layout = deepcopy(fig._layout_obj._props)
            fig._widget_data = deepcopy(fig._data)

    def _repr_mimebundle_(self, **kwargs):
        self.sync_figure_state()
        return super()._repr_mimebundle_(**kwargs)

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
