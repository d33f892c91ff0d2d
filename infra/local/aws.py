"""moto's server, in this process, and the switches the stack needs from it.

`"stepfunctions": {"execute_state_machine": True}` makes moto run executions on its
ASL engine; `"lambda": {"use_docker": False}` selects the `awslambda_simple` backend,
whose invoke the stack routes to the handlers (see `lambdas`). Set the same way as
`POST /moto-api/config` sets them, since the server runs in this process.
"""

from __future__ import annotations

import errno
import logging
import socket

from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

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


class MotoServer(ThreadedMotoServer):
    """ThreadedMotoServer on 127.0.0.1 that raises OSError for a port it cannot bind.

    The stock one binds in its thread, where werkzeug prints the failure and exits the
    thread, and then waits for a ready signal that never comes. This one tries the
    port first, and still ends the wait should the port be taken in between.
    """

    def __init__(self, port: int) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._failed = False

    def _server_entry(self) -> None:
        try:
            super()._server_entry()
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
