"""qlearn.viz defers jsonschema's IRI checker (rfc3987_syntax, 3 s to import) without changing what
jsonschema validates. Each check runs in a fresh interpreter: the point is what gets imported."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("rfc3987_syntax")

# IRIs and IRI references, valid and not (RFC 3987 examples and malformed ones)
SAMPLES = ["http://example.com/", "https://r\u00e9sum\u00e9.example.org/caf\u00e9?q=\u00fc#frag", "http://[::1]:80/a",
           "http://exa mple.com", "ht tp://x", "//host/path", "relative/path?x=1", "", "http://a/%zz",
           "urn:isbn:0451450523", "mailto:someone@example.com", "http://[not-an-ip]/", ":no-scheme"]

VALIDATE = """
import json, sys
from jsonschema import Draft7Validator
checker = Draft7Validator.FORMAT_CHECKER
samples = json.loads(sys.argv[1])
out = {fmt: [checker.conforms(s, fmt) for s in samples] for fmt in ("iri", "iri-reference")}
"""


def _run(code: str, *args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_figure_widget_import_skips_the_parser_build():
    got = _run("import json, sys, qlearn.viz\n"
               "import plotly.graph_objects as go\n"
               "go.FigureWidget\n"
               "print(json.dumps({'jsonschema': 'jsonschema._format' in sys.modules, 'lark': 'lark' in sys.modules,"
               " 'standin': type(sys.modules['rfc3987_syntax']).__name__}))")
    # the checker module was imported (so the stand-in was in place in time), the parsers were not built
    assert got == {"jsonschema": True, "lark": False, "standin": "_Deferred"}


def test_iri_formats_validate_exactly_as_without_the_stand_in():
    samples = json.dumps(SAMPLES)
    plain = _run(VALIDATE + "print(json.dumps(out))", samples)
    deferred = _run("import qlearn.viz\n" + VALIDATE +
                    "print(json.dumps({**out, 'real': type(sys.modules['rfc3987_syntax']).__name__}))", samples)
    assert deferred.pop("real") == "module"  # the first check loaded the real module in its place
    assert deferred == plain
    assert plain["iri"].count(True) >= 4 and plain["iri"].count(False) >= 4  # the samples tell valid from not


def test_stand_in_forwards_other_names_and_submodules():
    got = _run("import json, sys\n"
               "from qlearn.viz._deferred_iri import defer_iri_checker\n"
               "first = defer_iri_checker()\n"
               "import rfc3987_syntax\n"
               "from rfc3987_syntax.syntax_helpers import is_valid_syntax\n"
               "again = defer_iri_checker()\n"
               "sub = is_valid_syntax('iri', 'http://a/')\n"
               "parse = rfc3987_syntax.parse(term='iri', value='http://a/') is not None\n"
               "print(json.dumps({'first': first, 'again': again, 'sub': sub, 'parse': parse,"
               " 'after': defer_iri_checker(), 'type': type(sys.modules['rfc3987_syntax']).__name__}))")
    # a submodule imports under the stand-in; reading any other name puts the real module in its place
    assert got == {"first": True, "again": True, "sub": True, "parse": True, "after": False, "type": "module"}


def test_nothing_done_once_jsonschema_is_loaded():
    got = _run("import json, sys, jsonschema\n"
               "from qlearn.viz._deferred_iri import defer_iri_checker\n"
               "installed = defer_iri_checker()\n"
               "print(json.dumps({'installed': installed, 'type': type(sys.modules['rfc3987_syntax']).__name__}))")
    assert got == {"installed": False, "type": "module"}
