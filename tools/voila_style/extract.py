"""Write the CSS that Voila's ``voila-style.js`` adds to a page as a plain stylesheet.

Voila's ``lab`` template puts ``voila-style.js`` (343 kB, a webpack bundle whose only work is to add
``<style>`` elements: JupyterLab's rendered-markdown and widget styles, Font Awesome) in the page's
head as a classic script: the parser waits for it and it runs for ~0.2-0.3 s of main thread on a
2-core machine before anything is painted (measured with the Long Animation Frames API in a served
lesson). The same rules as a stylesheet are parsed in a fraction of that. The ``qlearn`` template
links this file instead of the script when it was made from the installed Voila's script
(``qlearn.server.voila_style``).

Run it again after upgrading Voila (tests/test_voila_style.py fails until then; ``qlearn serve`` keeps
Voila's script meanwhile)::

    .venv/bin/python tools/voila_style/extract.py

The script is run in headless Chromium from a copy in a temporary directory, which is where its font
URLs point; they are written relative, so they resolve next to the stylesheet, in the directory
Voila serves both from (``voila/templates/<template>/static/``).
"""
from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from qlearn.server import voila_style  # noqa: E402


def extract(script: Path, chromium: str) -> str:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        shutil.copy(script, d / "voila-style.js")
        (d / "index.html").write_text('<!doctype html><html><head><script src="voila-style.js"></script>'
                                      "</head><body></body></html>")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page()
            page.goto((d / "index.html").as_uri())
            texts = page.evaluate("() => Array.from(document.querySelectorAll('style')).map(s => s.textContent)")
            browser.close()
        prefix = d.as_uri() + "/"
        return "\n".join(t.replace(prefix, "") for t in texts)


def main() -> int:
    from qbrowser import find_chromium

    script = voila_style.installed_script()
    if script is None:
        print("voila-style.js not found in Voila's templates", file=sys.stderr)
        return 1
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium found (make browser-deps)", file=sys.stderr)
        return 1
    css = extract(script, chromium)
    sha = hashlib.sha256(script.read_bytes()).hexdigest()
    out = voila_style.STYLESHEET
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(voila_style.header(sha) + css + "\n", "utf-8")
    print(f"{out}: {out.stat().st_size} bytes from {script} ({script.stat().st_size} bytes, sha256 {sha[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
