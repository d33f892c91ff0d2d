"""moto's server, in this process, and the switches the stack needs from it.

`"stepfunctions": {"execute_state_machine": True}` makes moto run executions on its
ASL engine; `"lambda": {"use_docker": False}` selects the `awslambda_simple` backend,
whose invoke the stack routes to the handlers (see `lambdas`). Set the same way as
`POST /moto-api/config` sets them, since the server runs in this process.

Every call reaches moto one at a time (`AtomicCalls`), as each DynamoDB call is atomic
on AWS: moto's backends are not safe for concurrent calls (a cancelled
TransactWriteItems restores its backup over whatever another call wrote meanwhile).
Handlers still interleave between their calls, as they do on AWS. Three kinds of
request are not one moto call: a Lambda invoke runs a handler, which calls moto
itself; an SQS long poll is made of short polls, each atomic, until a message or
the wait's end; and an SMS reply (End User Messaging SMS `SendTextMessage`, which
moto does not have) goes to the local `TextMessages`, which the outbox copies out.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


def configure_moto() -> None:
    moto_api_backend.set_config(MOTO_CONFIG)
    # One access-log line per AWS call drowns the stack's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # The engine logs every failed state with a repr of the whole state (pages long);
    # the execution history holds the same error and cause.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_LAMBDA_INVOKE = re.compile(r"^/\d{4}-\d{2}-\d{2}/functions/[^/]+/invo(cations|ke-async)")
SEND_TEXT = "PinpointSMSVoiceV2.SendTextMessage"
RECEIVE_MESSAGE = "AmazonSQS.ReceiveMessage"
SHORT_POLL_S = 0.1


class TextMessages:
    """The SMS the functions sent, in order; `outbox` copies them out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[dict[str, Any]] = []

    def add(self, request: dict[str, Any]) -> str:
        message_id = str(uuid.uuid4())
        with self._lock:
            self._sent.append({"MessageId": message_id, **request})
        return message_id

    def since(self, start: int) -> list[dict[str, Any]]:
        with self._lock:
            return self._sent[start:]


def _body(environ: Environ) -> bytes:
    return environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # type: ignore[no-any-return]


def _with_body(environ: Environ, body: bytes) -> Environ:
    return {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}


class AtomicCalls:
    """WSGI middleware in front of moto: one call at a time (see the module's docstring)."""

    def __init__(self, app: WsgiApp, texts: TextMessages) -> None:
        self._app = app
        self._texts = texts
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if _LAMBDA_INVOKE.match(environ.get("PATH_INFO", "")):
            return self._app(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target == SEND_TEXT:
            return self._send_text(environ, start_response)
        if target == RECEIVE_MESSAGE:
            return self._receive(environ, start_response)
        return self._call(environ, start_response)

    def _call(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))

    def _send_text(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        message_id = self._texts.add(json.loads(_body(environ) or b"{}"))
        body = json.dumps({"MessageId": message_id}).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _receive(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        request = json.loads(_body(environ) or b"{}")
        deadline = time.monotonic() + float(request.get("WaitTimeSeconds") or 0)
        short = json.dumps({**request, "WaitTimeSeconds": 0}).encode()
        answered: list[Any] = []

        def keep(status: str, headers: Any, exc_info: Any = None) -> None:
            answered[:] = [status, headers, exc_info]

        while True:
            body = self._call(_with_body(environ, short), keep)
            empty = answered[0].startswith("200") and not json.loads(b"".join(body) or b"{}").get(
                "Messages"
            )
            if not empty or time.monotonic() >= deadline:
                start_response(*answered)
                return body
            time.sleep(SHORT_POLL_S)


class MotoServer(ThreadedMotoServer):
    """ThreadedMotoServer on 127.0.0.1 that raises OSError for a port it cannot bind.

    The stock one binds in its thread, where werkzeug prints the failure and exits the
    thread, and then waits for a ready signal that never comes. This one tries the
    port first, and still ends the wait should the port be taken in between.
    """

    def __init__(self, port: int, texts: TextMessages | None = None) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._failed = False
        self.texts = texts or TextMessages()

    def _serve(self) -> None:
        """ThreadedMotoServer's own, with every call made atomic."""
        app = AtomicCalls(DomainDispatcherApplication(create_backend_app), self.texts)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()

    def _server_entry(self) -> None:
        try:
            self._serve()
        except BaseException:  # werkzeug answers a bind failure with sys.exit(1)
            self._failed = True
            self._server_ready_event.set()
            raise

    def start(self) -> None:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((self._ip_address, self._port))
        super().start()
        if self._failed:
            raise OSError(errno.EADDRINUSE, f"moto could not listen on port {self._port}")
