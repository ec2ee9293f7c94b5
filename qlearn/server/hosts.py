"""The ``Host`` header check of ``qlearn serve``: answer only to the names the server is reached by.

A web page a learner visits can make their browser talk to their own ``qlearn serve`` through DNS
rebinding: the attacker's name (``evil.example``) is made to resolve to 127.0.0.1, the browser sends
``Host: evil.example:8866``, and same-origin checks pass because the page's origin is that name too.
Refusing every ``Host`` the server is not known by closes that door: pages and the kernel websocket
answer 403 to any other name.

Allowed by default: ``localhost``, ``127.0.0.1`` and ``::1`` (a missing ``Host`` counts as
127.0.0.1, as tornado reads it). ``qlearn serve --allow-host NAME`` (repeatable) adds the names a
class server is reached by (its DNS name, or the proxy's). When the server listens on a
non-loopback address, a ``Host`` that is an IP address literal is allowed as well (DNS rebinding
always carries a name, never an address). The port is not checked.
"""
from __future__ import annotations

import ipaddress

from tornado.httputil import split_host_and_port
from tornado.routing import Matcher
from tornado.web import RequestHandler

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (the default ``--host``).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("10.1.2.3")
    (True, True, False, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a ``Host`` header: lower case, port and IPv6 brackets removed.

    Examples
    --------
    >>> host_name("Evil.Example:8879"), host_name("[::1]:8866"), host_name("127.0.0.1")
    ('evil.example', '::1', '127.0.0.1')
    """
    name, _port = split_host_and_port(header.strip().lower())
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name


def normalize_allowed(names) -> tuple[str, ...]:
    """``--allow-host`` values checked and normalised (lower case, no port).

    Raises
    ------
    ValueError
        If a name is empty, contains a character a host name cannot (``/``, space, ``@``...).

    Examples
    --------
    >>> normalize_allowed(["Class.Example.org", "10.0.0.5"])
    ('class.example.org', '10.0.0.5')
    """
    out = []
    for raw in names or ():
        n = host_name(str(raw))
        if not n or any(c in n for c in "/ @?#\\\t\"'<>"):
            raise ValueError(f"allow_host must be a host name or address, got {raw!r}")
        out.append(n)
    return tuple(dict.fromkeys(out))


class HostPolicy:
    """Which ``Host`` names a server answers to (see the module docstring).

    Examples
    --------
    >>> p = HostPolicy(listen="127.0.0.1")
    >>> p.allows("127.0.0.1:8866"), p.allows("localhost:8866"), p.allows("[::1]:8866"), p.allows("evil.example:8866")
    (True, True, True, False)
    >>> p.allows("10.0.0.5:8866")
    False
    >>> HostPolicy(listen="0.0.0.0", allowed=["class.example.org"]).allows("10.0.0.5:8866")
    True
    """

    def __init__(self, listen: str = "127.0.0.1", allowed=()):
        self.names = frozenset(LOOPBACK_NAMES) | frozenset(normalize_allowed(allowed))
        self.any_address = not is_loopback(listen)

    def allows(self, header: str) -> bool:
        name = host_name(header)
        if name in self.names:
            return True
        try:
            addr = ipaddress.ip_address(name)
        except ValueError:
            return False
        return addr.is_loopback or self.any_address


class RefusedHost(Matcher):
    """A tornado routing rule that matches requests whose ``Host`` the policy refuses."""

    def __init__(self, policy: HostPolicy):
        self.policy = policy

    def match(self, request):
        return None if self.policy.allows(request.host) else {}


class RefusedHostHandler(RequestHandler):
    """403 for every method, with a one-line explanation; logged once per request, briefly."""

    def prepare(self):
        from .logs import excerpt
        from .websocket import REFUSED

        REFUSED.warning("qlearn: refused a request from %s for Host %s (not an allowed name; see --allow-host)",
                        self.request.remote_ip, excerpt(self.request.host, 80))
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("403: this lesson server does not answer to that host name. Use the address your "
                    "teacher gave you; a teacher can add the name with qlearn serve --allow-host NAME.\n")
