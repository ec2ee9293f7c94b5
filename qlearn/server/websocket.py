"""The kernel websocket of ``qlearn serve``: well-formed v1 frames from a page, nothing else.

jupyter_server's kernel websocket trusts what a client sends: a v1 frame announcing 2**63 - 1
parts, or a legacy (no subprotocol) frame announcing 10**7 buffers, makes the server loop and
allocate until it is killed; a message with no channel is written whole to the log; a comm the
kernel rejects sends its traceback to the page. Here:

* :class:`GuardedKernelWebsocketHandler` refuses a handshake that does not offer the v1 subprotocol
  (HTTP 400: the legacy protocol is never spoken), caps a message at :data:`MAX_MESSAGE_BYTES`
  (tornado closes the connection with 1009 before reading more), and never lets a write to a
  closed socket become an unretrieved-exception traceback in the log;
* :class:`GuardedKernelConnection` (``kernel_websocket_connection_class``) checks every frame
  with :mod:`qlearn.server.frames` before jupyter_server reads it, closes that one connection
  (code 1008) on anything refused, limits the message rate, logs refusals briefly and at a bounded
  rate, and keeps the kernel's stderr and tracebacks in the server log instead of sending them to
  the page.
"""
from __future__ import annotations

import json
import logging
import re
import time

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado import web
from voila.request_info_handler import RequestInfoSocketHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from .frames import V1_PROTOCOL, FrameError, check_message, parse_v1_frame
from .logs import BoundedLog, excerpt, tail

#: Largest websocket message a page may send. The lessons' pages send comm messages of a few
#: hundred bytes to a few kilobytes (slider values, plotly relayout events).
MAX_MESSAGE_BYTES = 256 * 1024
#: Most messages a connection may send in :data:`RATE_WINDOW` seconds (a slider dragged
#: continuously sends about 20 a second).
MAX_MESSAGES_PER_WINDOW = 600
RATE_WINDOW = 10.0
#: How many times one connection may open the widget control comm (a page does it once).
MAX_CONTROL_OPENS = 3
#: What a page receives instead of a kernel error's text and traceback.
ERROR_FOR_PAGE = "The lesson hit an error; the server log has the details."
#: WebSocket close code for a refused message (RFC 6455: policy violation).
CLOSE_POLICY = 1008

_log = logging.getLogger("qlearn.serve")
#: ipykernel's stderr line when a page closes or messages a comm the kernel no longer has (normal
#: when a page goes away); not worth a log line.
_NO_SUCH_COMM = re.compile(r"(No such comm: [0-9a-fA-F-]{1,64}\s*)+")
REFUSED = BoundedLog(_log)
KERNEL_OUTPUT = BoundedLog(_log)


#: Message ids remembered per kernel to refuse a replayed message (the kernel keeps 2**16 signatures).
SEEN_IDS = 4096


def _msg_id(header_part: bytes) -> str:
    try:
        value = json.loads(header_part).get("msg_id")
    except (ValueError, AttributeError):
        value = None
    return value if isinstance(value, str) else repr(value)


def _seen_ids(kernel_manager):
    from collections import OrderedDict

    seen = getattr(kernel_manager, "_qlearn_seen_ids", None)
    if seen is None:
        seen = OrderedDict()
        kernel_manager._qlearn_seen_ids = seen
    return seen


class GuardedKernelConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's websocket-to-ZMQ connection, with every incoming frame checked first."""

    def _refuse(self, reason: str, frame=None) -> None:
        handler = self.websocket_handler
        ip = getattr(getattr(handler, "request", None), "remote_ip", "?")
        REFUSED.warning("qlearn: refused a websocket message from %s for kernel %s: %s%s", ip, self.kernel_id,
                        reason, "" if frame is None else " [" + excerpt(frame, 120) + "]")
        try:
            handler.close(CLOSE_POLICY, "message refused")
        except Exception:  # already closed
            pass

    def handle_incoming_message(self, incoming_msg) -> None:
        if not self.channels:
            return
        try:
            channel, parts = parse_v1_frame(incoming_msg)
            msg_type, target = check_message(channel, parts)
        except FrameError as e:
            self._refuse(str(e), incoming_msg)
            return
        now = time.monotonic()
        if now - getattr(self, "_q_window", 0.0) > RATE_WINDOW:
            self._q_window, self._q_count = now, 0
        self._q_count = getattr(self, "_q_count", 0) + 1
        if self._q_count > MAX_MESSAGES_PER_WINDOW:
            self._refuse(f"more than {MAX_MESSAGES_PER_WINDOW} messages in {RATE_WINDOW:.0f} s")
            return
        msg_id = _msg_id(parts[0])
        seen = _seen_ids(self.kernel_manager)
        if msg_id in seen:  # the kernel would refuse it ("Duplicate Signature") with a traceback in the log
            self._refuse(f"message id {excerpt(msg_id, 60)!r} sent twice")
            return
        seen[msg_id] = None
        while len(seen) > SEEN_IDS:
            seen.popitem(last=False)
        if target is not None:
            self._q_opens = getattr(self, "_q_opens", 0) + 1
            if self._q_opens > MAX_CONTROL_OPENS:
                self._refuse(f"comm {target!r} opened more than {MAX_CONTROL_OPENS} times")
                return
        try:
            super().handle_incoming_message(incoming_msg)
        except Exception as e:  # never a traceback for the client, never one unbounded in the log
            self._refuse(f"{type(e).__name__}: {excerpt(str(e), 200)}")

    # ------------------------------------------------------------------ what goes back to the page

    def _lesson(self) -> str:
        lesson_of = getattr(self.multi_kernel_manager, "lesson_of", None)
        return lesson_of(self.kernel_id) if lesson_of else "?"

    def _on_error(self, channel, msg, msg_list):
        """A kernel error while a page is connected (a widget callback that raised): its traceback
        goes to the server log with the lesson's name; the page gets the error without it.

        Done here rather than with ``MappingKernelManager.allow_tracebacks = False``: jupyter_server
        2.21 then reads ``traceback_replacement_message`` from the wrong object and raises.
        """
        if channel != "iopub":
            return None
        try:
            header = msg["header"] or self.session.unpack(msg_list[0])
            msg["header"] = header
            if header.get("msg_type") != "error":
                return None
            content = self.session.unpack(msg_list[3]) if msg.get("content") is None else msg["content"]
            tb = "\n".join(content.get("traceback") or [])
            KERNEL_OUTPUT.error("qlearn: error in kernel %s (%s) while a page was connected: %s: %s\n%s",
                                self.kernel_id, self._lesson(), content.get("ename"),
                                excerpt(content.get("evalue", ""), 300), tail(strip_ansi(tb), 4000))
            content = {**content, "ename": "Error", "evalue": ERROR_FOR_PAGE, "traceback": [ERROR_FOR_PAGE]}
            msg["content"] = content
            if isinstance(msg_list, list) and len(msg_list) > 3:
                msg_list[3] = self.session.pack(content)
        except Exception:  # a message we cannot read is sent as it is; never a traceback here
            return None
        return None

    def _on_zmq_reply(self, stream, msg_list):
        """Send a kernel message to the page, except stderr, which goes to the server log."""
        if getattr(stream, "channel", None) == "iopub":
            try:
                if isinstance(msg_list, dict):  # jupyter_server passes a dict once the socket closed
                    header, content = msg_list.get("header") or {}, msg_list.get("content") or {}
                else:
                    header = json.loads(msg_list[0])
                    content = json.loads(msg_list[3]) if header.get("msg_type") == "stream" else {}
                if header.get("msg_type") == "stream" and content.get("name") == "stderr":
                    text = content.get("text", "")
                    if _NO_SUCH_COMM.fullmatch(text):  # a page closing comms the kernel already dropped
                        return None
                    KERNEL_OUTPUT.warning("qlearn: stderr of kernel %s (%s): %s", self.kernel_id,
                                          self._lesson(), excerpt(strip_ansi(content.get("text", "")), 2000))
                    return None
            except (ValueError, TypeError, AttributeError, LookupError):
                pass
        if isinstance(msg_list, dict) and self.websocket_handler.ws_connection is None:
            return None  # the page has gone: nothing to send to
        return super()._on_zmq_reply(stream, msg_list)


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (IPython colours its tracebacks).

    Examples
    --------
    >>> strip_ansi("\\x1b[0;31mValueError\\x1b[0m: bad")
    'ValueError: bad'
    """
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def quiet_write(handler, write, message, binary=False):
    """``write(message, binary)`` (a tornado websocket handler's ``write_message``) that never leaves
    an exception for the log when the page has gone.

    tornado raises WebSocketClosedError at once if the socket is known to be closed (jupyter_server
    calls it from a ZMQ callback: "Uncaught exception in ZMQStream callback"), and otherwise returns
    a task that fails later if the peer vanished meanwhile (a tab closed, a laptop lid shut); nobody
    awaits that task, so asyncio logs "Task exception was never retrieved" with two tracebacks. Here
    the first is dropped and the second is retrieved.
    """
    conn = handler.ws_connection
    if conn is None or conn.is_closing():
        return None
    try:
        future = write(message, binary)
    except Exception:  # WebSocketClosedError, StreamClosedError
        return None
    if future is not None:
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


class GuardedKernelWebsocketHandler(VoilaKernelWebsocketHandler):
    """Voila's kernel websocket handler: v1 subprotocol required, small messages, quiet closes."""

    @property
    def max_message_size(self) -> int:
        return MAX_MESSAGE_BYTES

    async def get(self, kernel_id):
        offered = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if V1_PROTOCOL not in offered:
            REFUSED.warning("qlearn: refused a kernel websocket from %s without the %s subprotocol",
                            self.request.remote_ip, V1_PROTOCOL)
            raise web.HTTPError(400, "the v1 kernel websocket subprotocol is required")
        if kernel_id not in self.kernel_manager:
            raise web.HTTPError(404)
        # the handshake waits for the kernel's answer: the page is there meanwhile (kernels.py)
        mark = getattr(self.kernel_manager, "connecting", None)
        if mark is not None:
            mark(kernel_id, +1)
        try:
            return await super().get(kernel_id)
        finally:
            if mark is not None:
                mark(kernel_id, -1)

    def select_subprotocol(self, subprotocols):
        return V1_PROTOCOL if V1_PROTOCOL in subprotocols else None

    def on_message(self, message):
        if self.connection is None:
            return
        try:
            self.connection.handle_incoming_message(message)
        except Exception as e:
            REFUSED.warning("qlearn: closed a kernel websocket from %s: %s", self.request.remote_ip,
                            excerpt(f"{type(e).__name__}: {e}", 200))
            self.close(CLOSE_POLICY, "message refused")

    def write_message(self, message, binary=False):
        """Write, or drop quietly when the page has gone (no 'Task exception was never retrieved')."""
        return quiet_write(self, super().write_message, message, binary)

    def send_error(self, status_code: int = 500, **kwargs) -> None:
        """Errors before the upgrade: a status line and a short text, never a traceback."""
        kwargs.pop("exc_info", None)
        if self._headers_written:
            return
        self.clear()
        self.set_status(status_code)
        self.finish(f"{status_code}\n")


class GuardedRequestInfoHandler(RequestInfoSocketHandler):
    """Voila's ``/voila/query/<kernel id>`` websocket (pre-heated pages read their request info on
    it): only for a running kernel, tiny messages, and anything a client sends is ignored (tornado's
    default ``on_message`` raised NotImplementedError: one log traceback per message)."""

    @property
    def max_message_size(self) -> int:
        return 1024

    def open(self, kernel_id: str) -> None:
        km = self.settings.get("kernel_manager")
        if km is not None and kernel_id not in km:
            self.close(CLOSE_POLICY, "no such kernel")
            return
        self._q_kernel_id = kernel_id
        super().open(kernel_id)

    def on_message(self, message) -> None:
        return None

    def write_message(self, message, binary=False):
        """Voila writes the request info here when the page was sent (``send_updates``) or when the
        page connects; a page that has gone meanwhile leaves no unretrieved exception."""
        return quiet_write(self, super().write_message, message, binary)

    def on_close(self) -> None:
        kernel_id = getattr(self, "_q_kernel_id", None)
        if kernel_id is not None and RequestInfoSocketHandler._waiters.get(kernel_id) is self:
            del RequestInfoSocketHandler._waiters[kernel_id]
