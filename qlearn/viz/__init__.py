"""Figures and explorers: the only part of qlearn that imports plotly or ipywidgets.

Figure functions (``qlearn.viz.figures``-style modules) return ``go.Figure`` and
display nothing; explorer builders (names ending in ``_explorer``) return an
:class:`Explorer`, a VBox of controls, a FigureWidget and a readout.
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr
from qlearn.viz._deferred_iri import defer_iri_checker

defer_iri_checker()  # before plotly's widget module imports jsonschema: 3 s less per kernel

from qlearn.viz.explorer import Explorer  # noqa: E402
from qlearn.viz.quiz import Question, lesson_quiz, quiz  # noqa: E402


def widget(fig):
    """Show a static figure as a FigureWidget.

    In Voila a plain ``go.Figure`` goes through plotly's mime renderer, which logs
    ``r.setData is not a function`` in the page; a FigureWidget built from the figure renders
    through the same path as the explorers, with its data in the initial state, and (in a box,
    :class:`qlearn.viz.explorer.FigureBox`) drawn at once on a served page from its preview.
    """
    import plotly.graph_objects as go

    from qlearn.viz.explorer import FigureBox

    return FigureBox(go.FigureWidget(fig))


__getattr__ = submodule_getattr(__name__)  # the parts and building blocks on first use


__all__ = ["Explorer", "Question", "lesson_quiz", "quiz", "widget"]
