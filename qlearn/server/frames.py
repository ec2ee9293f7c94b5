"""Kernel websocket frames: what ``qlearn serve`` accepts from a page, checked before use.

A lesson page talks to its kernel over Jupyter's kernel websocket protocol ``v1``
(``v1.kernel.websocket.jupyter.org``): every message is one binary frame ::

    n (8 bytes, little-endian) | offsets[0..n-1] (8 bytes each) |
    channel | header | parent header | metadata | content | buffers...

``offsets[0]`` is where the channel starts (``8 * (n + 1)``), ``offsets[i]`` where part ``i``
starts, and the last offset is the frame's length. jupyter_server reads ``n`` and the offsets
without checking them (``deserialize_msg_from_ws_v1``): a frame announcing ``n = 2**63 - 1``
makes it loop and allocate until the machine runs out of memory. :func:`parse_v1_frame`
checks the whole layout first, with arithmetic only, and allocates nothing larger than the frame.

:func:`check_message` then applies the course's policy: a page may only open the comm targets and
send the message types that ipywidgets' front end uses (see :data:`ALLOWED_MSG_TYPES`,
:data:`ALLOWED_COMM_TARGETS`). Used by :mod:`qlearn.server.websocket`; see ``docs/hosting.md``.
"""
from __future__ import annotations

import json
import struct

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"

#: Channels a page may write to. Comm messages, ``comm_info_request`` and ``kernel_info_request``
#: all travel on ``shell``; a page never writes to ``iopub`` (the kernel's broadcast channel) and
#: the lessons never ask for input (``stdin``) or interrupt/debug a kernel (``control``).
ALLOWED_CHANNELS = frozenset({"shell"})
#: Message types a page may send: what ipywidgets' and Voila's front ends send. No ``execute_request``
#: (a page never runs code) and no ``shutdown_request`` (a page closes its kernel over HTTP).
ALLOWED_MSG_TYPES = frozenset({"comm_open", "comm_msg", "comm_close", "comm_info_request", "kernel_info_request"})
#: Comm targets a page may open, with the metadata ``version`` major they require (None: any).
#: Voila's widget manager (ipywidgets 8) opens ``jupyter.widget.control`` once, with version 1.0.0,
#: to ask for every widget's state; ipywidgets raises (and prints a traceback into the page's
#: stream) for any other version. Pages never create widgets (target ``jupyter.widget``) from the
#: front end, so a client cannot make its kernel hold widgets of its own.
ALLOWED_COMM_TARGETS = {"jupyter.widget.control": "1"}
#: The parts of a message before its binary buffers (header, parent header, metadata, content).
MESSAGE_PARTS = 4
#: Most binary buffers a page's message may carry (ipywidgets sends binary widget state as buffers).
MAX_BUFFERS = 16
#: Most bytes of a message's header, parent header or metadata (a real header is about 200 bytes).
MAX_HEADER_BYTES = 4096


class FrameError(ValueError):
    """A websocket frame or message that ``qlearn serve`` refuses; the text says why, briefly."""


def parse_v1_frame(frame: bytes, *, max_buffers: int = MAX_BUFFERS) -> tuple[str, list[bytes]]:
    """Split a v1 kernel websocket frame into its channel and message parts, checking every offset.

    Parameters
    ----------
    frame : bytes
        One binary websocket frame.
    max_buffers : int
        Most binary buffers after the four message parts.

    Returns
    -------
    (str, list of bytes)
        The channel name and the parts (header, parent header, metadata, content, buffers...).

    Raises
    ------
    FrameError
        If the frame is not bytes, is shorter than its offset table, announces a part count outside
        ``[2 + 4, 2 + 4 + max_buffers]``, has offsets that do not start right after the table,
        decrease, or do not end at the frame's length, or a channel that is not ASCII.

    Examples
    --------
    >>> parse_v1_frame(struct.pack("<Q", 2**63 - 1))
    Traceback (most recent call last):
    ...
    qlearn.server.frames.FrameError: part count 9223372036854775807 outside [6, 22]
    >>> channel, parts = parse_v1_frame(build_v1_frame("shell", [b"{}", b"{}", b"{}", b"{}"]))
    >>> channel, parts
    ('shell', [b'{}', b'{}', b'{}', b'{}'])
    """
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise FrameError(f"text frame ({len(frame)} characters); the v1 protocol sends binary frames")
    frame = bytes(frame)
    if len(frame) < 8:
        raise FrameError(f"frame of {len(frame)} bytes has no part count")
    (n,) = struct.unpack_from("<Q", frame, 0)
    lo, hi = 2 + MESSAGE_PARTS, 2 + MESSAGE_PARTS + max_buffers
    if not lo <= n <= hi:
        raise FrameError(f"part count {n} outside [{lo}, {hi}]")
    table = 8 * (n + 1)
    if len(frame) < table:
        raise FrameError(f"frame of {len(frame)} bytes is shorter than its offset table ({table} bytes)")
    offsets = struct.unpack_from(f"<{n}Q", frame, 8)
    if offsets[0] != table:
        raise FrameError(f"first offset {offsets[0]} is not the table's end {table}")
    if any(b < a for a, b in zip(offsets, offsets[1:])):
        raise FrameError("offsets decrease")
    if offsets[-1] != len(frame):
        raise FrameError(f"last offset {offsets[-1]} is not the frame's length {len(frame)}")
    try:
        channel = frame[offsets[0]:offsets[1]].decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("channel name is not ASCII") from None
    parts = [frame[offsets[i]:offsets[i + 1]] for i in range(1, n - 1)]
    return channel, parts


def build_v1_frame(channel: str, parts: list[bytes]) -> bytes:
    """The v1 frame for ``channel`` and ``parts`` (the layout :func:`parse_v1_frame` reads).

    Examples
    --------
    >>> frame = build_v1_frame("shell", [b"ab", b"c"])
    >>> len(frame), struct.unpack_from("<5Q", frame)  # 4 offsets: 40-byte table, 5 + 2 + 1 bytes
    (48, (4, 40, 45, 47, 48))
    """
    ch = channel.encode("ascii")
    offsets = [8 * (1 + 2 + len(parts))]
    offsets.append(offsets[-1] + len(ch))
    for p in parts:
        offsets.append(offsets[-1] + len(p))
    return struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets) + ch + b"".join(parts)


def _json_dict(raw: bytes, what: str, limit: int | None) -> dict:
    if limit is not None and len(raw) > limit:
        raise FrameError(f"{what} of {len(raw)} bytes (at most {limit})")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise FrameError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise FrameError(f"{what} is not a JSON object")
    return value


def check_message(channel: str, parts: list[bytes]) -> tuple[str, str | None]:
    """Apply the course's policy to a parsed message; returns ``(msg_type, comm target or None)``.

    Raises
    ------
    FrameError
        On a channel other than ``shell``, a header, parent header or metadata that is not a small
        JSON object, a header without a ``msg_id`` string, a comm message without a ``comm_id``
        string or with ``data`` that is not an object, a message type outside
        :data:`ALLOWED_MSG_TYPES`, or a ``comm_open`` to a target outside
        :data:`ALLOWED_COMM_TARGETS` (or with the wrong ``version``).

    Examples
    --------
    >>> msg = lambda t, content, md={}: [json.dumps(x).encode()
    ...                                  for x in ({"msg_type": t, "msg_id": "m1"}, {}, md, content)]
    >>> check_message("shell", msg("comm_msg", {"comm_id": "a", "data": {}}))
    ('comm_msg', None)
    >>> check_message("shell", msg("comm_open", {"comm_id": "c", "target_name": "jupyter.widget.control"}))
    Traceback (most recent call last):
    ...
    qlearn.server.frames.FrameError: comm_open to 'jupyter.widget.control' needs metadata version 1.x, got None
    >>> check_message("shell", msg("execute_request", {"code": "1"}))
    Traceback (most recent call last):
    ...
    qlearn.server.frames.FrameError: message type 'execute_request' is not accepted
    """
    if channel not in ALLOWED_CHANNELS:
        raise FrameError(f"channel {channel[:40]!r} is not accepted")
    if len(parts) < MESSAGE_PARTS:
        raise FrameError(f"{len(parts)} message parts (need {MESSAGE_PARTS})")
    header = _json_dict(parts[0], "header", MAX_HEADER_BYTES)
    _json_dict(parts[1], "parent header", MAX_HEADER_BYTES)
    metadata = _json_dict(parts[2], "metadata", MAX_HEADER_BYTES)
    msg_type = header.get("msg_type")
    if not isinstance(msg_type, str) or msg_type not in ALLOWED_MSG_TYPES:
        raise FrameError(f"message type {str(msg_type)[:40]!r} is not accepted")
    msg_id = header.get("msg_id")
    if not isinstance(msg_id, str) or not 0 < len(msg_id) <= 128:
        raise FrameError("header has no msg_id string (1 to 128 characters)")
    target = None
    if msg_type in ("comm_open", "comm_msg", "comm_close"):
        # ipykernel reads these fields without checking them (a KeyError there is a traceback in the log)
        content = _json_dict(parts[3], "content", None)
        if not isinstance(content.get("comm_id"), str):
            raise FrameError("comm_id is not a string")
        if not isinstance(content.get("data", {}), dict):
            raise FrameError("comm data is not a JSON object")
        if msg_type == "comm_open":
            target = content.get("target_name")
            if not isinstance(target, str) or target not in ALLOWED_COMM_TARGETS:
                raise FrameError(f"comm target {str(target)[:60]!r} is not accepted")
            major = ALLOWED_COMM_TARGETS[target]
            version = metadata.get("version")
            if major is not None and (not isinstance(version, str) or version.split(".")[0] != major):
                shown = version[:20] if isinstance(version, str) else version
                raise FrameError(f"comm_open to {target!r} needs metadata version {major}.x, got {shown!r}")
    return msg_type, target
