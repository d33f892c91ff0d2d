"""The local stack's HTTP server, on a real socket."""

from __future__ import annotations

import socket

from infra.local.http_adapter import ApiGatewayServer


def test_a_burst_of_clients_waits_in_the_listen_backlog() -> None:
    """Nothing accepts here: every connection must wait in the backlog (the standard
    library's 5 would drop the rest, which then time out or are reset)."""
    server = ApiGatewayServer(0)
    port = server.server_address[1]
    clients: list[socket.socket] = []
    try:
        for _ in range(100):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    finally:
        for client in clients:
            client.close()
        server.server_close()
    assert len(clients) == 100
