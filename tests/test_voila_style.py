"""Voila's styles as a stylesheet (qlearn.server.voila_style, tools/voila_style/extract.py): the
committed file was made from the installed Voila's script, and a page keeps the script when not."""
from __future__ import annotations

import hashlib

from qlearn import serve
from qlearn.server import voila_style as vs


def test_the_stylesheet_was_made_from_the_installed_voilas_script():
    script = vs.installed_script()
    assert script is not None and script.name == "voila-style.js"
    assert vs.source_sha256() == hashlib.sha256(script.read_bytes()).hexdigest(), (
        "Voila's voila-style.js changed: run tools/voila_style/extract.py")
    assert vs.stylesheet_matches()


def test_the_stylesheet_holds_voilas_rules_with_fonts_next_to_it():
    css = vs.STYLESHEET.read_text("utf-8")
    assert ".jp-RenderedHTMLCommon" in css and "@font-face" in css  # rendered markdown, Font Awesome
    assert "file://" not in css and "/tmp/" not in css  # no path of the machine that made it
    fonts = [u for u in css.split("url(")[1:] if u.split(")")[0].endswith((".woff2", ".woff", ".ttf", ".eot"))]
    assert fonts and all("/" not in u.split(")")[0] for u in fonts)  # relative: beside the stylesheet
    static = vs.installed_script().parent
    assert all((static / u.split(")")[0]).is_file() for u in fonts)  # Voila serves them from there


def test_another_script_or_no_header_keeps_voilas_script(tmp_path):
    other = tmp_path / "voila-style.js"
    other.write_bytes(vs.installed_script().read_bytes() + b"\n// a newer Voila\n")
    assert not vs.stylesheet_matches(other)
    bare = tmp_path / "voila-style.css"
    bare.write_text("body { color: red }\n")
    assert vs.source_sha256(bare) is None
    assert not vs.stylesheet_matches(vs.installed_script(), bare)
    assert not vs.stylesheet_matches(tmp_path / "missing.js")


def test_qlearn_serve_tells_the_template_to_link_the_stylesheet(tmp_path):
    c = serve.voila_config(serve.ServeOptions(), tmp_path)
    assert c.VoilaConfiguration.resources["qlearn"]["style_css"] is True
