"""The ``qlearn`` command.

``qlearn serve`` serves the landing page (``notebooks/00_index.ipynb``) and every lesson as Voila
apps; see :mod:`qlearn.serve` for the settings and ``docs/hosting.md`` for classroom hosting.
"""
from __future__ import annotations

import argparse
import sys

from . import serve as _serve


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``qlearn`` (sub-command ``serve``)."""
    parser = argparse.ArgumentParser(prog="qlearn", description="qlearn: an interactive course on quantization.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    s = sub.add_parser(
        "serve",
        help="serve the lessons as Voila apps",
        description=(
            "Serve the landing page (00_index.ipynb) and every lesson in the notebooks directory as "
            "Voila apps. Viewers see outputs and widgets only: no code, no tracebacks. Listens on "
            "loopback (127.0.0.1) unless --host says otherwise."
        ),
    )
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only). Anything else "
                        "exposes the server, with no login and no TLS, to everyone who can reach it: "
                        "put it behind the class server or an authenticating TLS proxy (docs/hosting.md)")
    s.add_argument("--port", type=int, default=8866, help="port to listen on (default: 8866)")
    s.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    s.add_argument("--notebooks", metavar="DIR", default=None,
                   help="directory of the lessons (default: ./notebooks)")
    s.add_argument("--timeout", type=int, default=_serve.EXECUTE_TIMEOUT, metavar="SECONDS",
                   help=f"longest time one cell may run before the page reports it "
                        f"(default: {_serve.EXECUTE_TIMEOUT})")
    s.add_argument("--cull-idle", type=int, default=_serve.CULL_IDLE_TIMEOUT, metavar="SECONDS",
                   help="shut down a lesson's kernel after this long with no page open "
                        f"(default: {_serve.CULL_IDLE_TIMEOUT}; 0 never)")
    s.add_argument("--preheat", nargs="+", default=["all"], metavar="WHICH",
                   help="notebooks to start and run before anyone asks, so they open at once: "
                        "'all' (default: one kernel per lesson, about 120 MB each), 'landing' "
                        "(00_index.ipynb only), 'none', or notebook file names")
    s.add_argument("--pool-size", type=int, default=1, metavar="N",
                   help="kernels kept ready per pre-heated notebook (default: 1; a class opening "
                        "one lesson together: --preheat LESSON.ipynb --pool-size 30, about 120 MB "
                        f"each; at most {_serve.MAX_POOL_SIZE})")
    s.add_argument("--pool-burst", type=int, default=_serve.POOL_BURST, metavar="N",
                   help="kernels kept ready for the landing page, for the lesson opened last (for 10 "
                        "minutes) and for the lesson after it, so a second and third learner do not wait "
                        f"for a kernel to start (default: {_serve.POOL_BURST}; added one at a time when "
                        "the server is idle, given back when the lesson cools down; 1: only --pool-size)")
    s.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name (or address) learners reach the server by, besides localhost, "
                        "127.0.0.1 and ::1; repeatable. Requests for any other Host get 403 "
                        "(protection against DNS rebinding)")
    s.add_argument("--max-kernels", type=int, default=0, metavar="N",
                   help="most kernels at once, pre-heated ones included; past it a page says the "
                        "server is full (default: 0, derived from this machine's memory at about "
                        f"160 MB a kernel; at most {_serve.MAX_KERNELS})")
    s.add_argument("--max-kernels-per-client", type=int, default=10, metavar="N",
                   help="most kernels one client address may hold (default: 10; 0 for no limit). "
                        "Not applied to 127.0.0.1 and ::1: this machine's own browser, or a reverse "
                        "proxy on it, through which every learner arrives")
    s.add_argument("--unconnected-timeout", type=int, default=_serve.UNCONNECTED_TIMEOUT, metavar="SECONDS",
                   help="free a lesson's kernel when its page has not connected to it this long after "
                        f"being sent (a dropped request, a closed laptop; default: {_serve.UNCONNECTED_TIMEOUT})")
    s.add_argument("--plotly-inline", action="store_true",
                   help="send plotly.js inside every figure (plotly's default) instead of once, "
                        "as a cached file")
    return parser


def options_from_args(args: argparse.Namespace, notebooks_dir=None) -> _serve.ServeOptions:
    """Turn parsed ``serve`` arguments into :class:`qlearn.serve.ServeOptions`.

    Raises ValueError for a ``--preheat`` that mixes a keyword with names, names a notebook that
    is not in ``notebooks_dir``, or a ``--pool-size`` out of range.
    """
    from pathlib import Path

    which = list(args.preheat)
    keywords = {"all", "landing", "none"}
    if len(which) > 1 and keywords & set(which):
        raise ValueError(f"preheat takes one of {sorted(keywords)} or notebook names, not both: {which}")
    names = sorted(p.name for p in Path(notebooks_dir).glob("*.ipynb")) if notebooks_dir is not None else []
    if which == ["all"]:
        preheat = names
    elif which == ["landing"]:
        preheat = [_serve.LANDING]
    elif which == ["none"]:
        preheat = []
    else:
        unknown = [w for w in which if w not in names]
        if unknown:
            raise ValueError(f"preheat: no such notebook {unknown} in {notebooks_dir} "
                             f"(choose from {names} or all, landing, none)")
        preheat = which
    return _serve.ServeOptions(host=args.host, port=args.port, open_browser=not args.no_browser,
                               timeout=args.timeout, cull_idle_timeout=args.cull_idle, preheat=preheat,
                               pool_size=args.pool_size, pool_burst=args.pool_burst,
                               cached_plotly=not args.plotly_inline,
                               allow_hosts=tuple(args.allow_host), max_kernels=args.max_kernels,
                               max_kernels_per_client=args.max_kernels_per_client,
                               unconnected_timeout=args.unconnected_timeout)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qlearn`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        try:
            nb_dir = _serve.find_notebooks_dir(args.notebooks)
            options = options_from_args(args, nb_dir)
        except ValueError as exc:
            parser.error(str(exc))
        _serve.serve(nb_dir, options)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
