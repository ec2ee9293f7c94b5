"""A widget as plain HTML: what a served page shows of a prediction or a quiz before it is live.

A lesson page served by ``qlearn serve`` shows its text at once (the server renders it), but a
widget only once Voila's front end has loaded and connected to the kernel, 2-4 s later. An
explorer sends a figure preview for that time (:meth:`qlearn.viz.explorer.Explorer.preview`);
the widgets without figures (predictions, quizzes) send this instead: the same question, choices,
boxes and buttons as plain HTML, **disabled** (they cannot work before the kernel is connected,
and a learner should not type into a box that will be replaced), each button with a "connecting"
note. The ``qlearn`` Voila template shows it in the output's place and swaps the live widget in
when it has been drawn (``preview.macro.html.j2``).

Only the widgets the course's boxes are made of are drawn (HTML, Label, RadioButtons, Text,
Button, boxes); a widget hidden by its layout (``display: none``) is left out, and any other
widget (e.g. the progress line, which lives in the browser) is left for the live page.
"""
from __future__ import annotations

import html

import ipywidgets as widgets

#: The MIME type of a server-rendered preview (the same one explorers use).
PREVIEW_MIME = "application/vnd.qlearn.preview+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: Shown beside a button until the live widget has replaced the preview.
WAIT = '<span class="qlearn-ssr-wait" role="status">connecting&hellip;</span>'


def _hidden(w) -> bool:
    layout = getattr(w, "layout", None)
    return getattr(layout, "display", None) == "none" or getattr(layout, "visibility", None) == "hidden"


def _box_style(w) -> str:
    """The box's own border, padding and margin (a prediction is framed), as a style attribute."""
    layout = getattr(w, "layout", None)
    css = [f"{k}: {v}" for k in ("border", "padding", "margin")
           if isinstance(v := getattr(layout, k, None), str) and v and not set(v) & set("\"<>;{}")]
    return f' style="{html.escape("; ".join(css), quote=True)}"' if css else ""


def _label(description: str) -> str:
    return f'<span class="qlearn-w-label">{html.escape(description)}</span>' if description else ""


def static_html(w) -> str:
    """``w`` and its children as static HTML, inputs disabled; ``""`` for a widget it does not draw.

    Examples
    --------
    >>> import ipywidgets as widgets
    >>> box = widgets.VBox([widgets.HTML("<b>Predict:</b> which is larger?"),
    ...                     widgets.RadioButtons(options=["a", "b"], value=None),
    ...                     widgets.Button(description="Commit"),
    ...                     widgets.HTML("the answer", layout=widgets.Layout(display="none"))])
    >>> out = static_html(box)
    >>> "<b>Predict:</b> which is larger?" in out, out.count('type="radio"'), "the answer" in out
    (True, 2, False)
    >>> 'disabled' in out and 'Commit' in out
    True
    """
    if not isinstance(w, widgets.Widget):
        raise TypeError(f"w must be an ipywidgets Widget, got {type(w).__name__}")
    if _hidden(w):
        return ""
    own = getattr(w, "static_html", None)
    if callable(own):  # a widget that knows its own static form (e.g. the progress line's place)
        return str(own())
    if isinstance(w, widgets.Box):
        kind = "qlearn-w-hbox" if isinstance(w, widgets.HBox) else "qlearn-w-vbox"
        inner = "".join(static_html(c) for c in w.children if isinstance(c, widgets.Widget))
        return f'<div class="{kind}"{_box_style(w)}>{inner}</div>' if inner else ""
    if isinstance(w, widgets.HTML):  # qlearn builds these from escaped text
        return f'<div class="qlearn-w-html">{w.value}</div>' if w.value else ""
    if isinstance(w, widgets.Label):
        return f'<div class="qlearn-w-html">{html.escape(str(w.value))}</div>' if w.value else ""
    if isinstance(w, widgets.RadioButtons):
        items = "".join(
            f'<label><input type="radio" disabled{" checked" if label == w.label else ""}> '
            f"{html.escape(str(label))}</label>" for label in w._options_labels)
        return f'<div class="qlearn-w-radio">{_label(w.description)}<div>{items}</div></div>'
    if isinstance(w, widgets.Text):
        return (f'<div class="qlearn-w-text">{_label(w.description)}<input type="text" disabled '
                f'value="{html.escape(w.value, quote=True)}" placeholder="{html.escape(w.placeholder, quote=True)}">'
                "</div>")
    if isinstance(w, widgets.Button):
        cls = f"qlearn-w-{w.button_style}" if w.button_style else ""
        width = getattr(w.layout, "width", None)
        if isinstance(width, str) and width and not set(width) & set("\"<>;{}"):
            cls += " qlearn-w-own-width" if width == "auto" else ""
        return f'<span class="qlearn-w-button"><button type="button" disabled class="{cls.strip()}">' \
               f"{html.escape(w.description)}</button>{WAIT}</span>"
    return ""


class StaticPreview:
    """Mixin for a box widget: its MIME bundle also carries :func:`static_html` as a preview
    (``{"html": ...}`` under :data:`PREVIEW_MIME`), which the ``qlearn`` template shows until the
    live widget has been drawn. Front ends that do not know the MIME type ignore it."""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict) and WIDGET_VIEW in bundle:
            body = static_html(self)
            if body:
                bundle[PREVIEW_MIME] = {"html": body}
        return bundle
