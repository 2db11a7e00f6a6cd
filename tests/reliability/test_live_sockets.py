"""The WebSocket upgrade of `/graphql` on a real server (uvicorn's `websockets`): what is refused
is an HTTP 403, never a 500 (contract: "Live events (subscriptions)")."""

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.reliability.live import register
from tests.reliability.servers import Server
from tests.reliability.sockets import init_close_code


def _upgrade_status(server: Server, subprotocols: list[str], **headers: str) -> int:
    url = server.url.replace("http://", "ws://") + "/graphql"
    try:
        with connect(
            url,
            subprotocols=[Subprotocol(name) for name in subprotocols] or None,
            additional_headers=headers,
            open_timeout=10,
        ):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


@pytest.mark.parametrize("subprotocols", [["graphql-ws"], []])
def test_an_upgrade_without_graphql_transport_ws_is_403(
    live_server: Server, subprotocols: list[str]
) -> None:
    assert _upgrade_status(live_server, subprotocols) == 403


def test_an_upgrade_from_a_foreign_origin_is_403(live_server: Server) -> None:
    status = _upgrade_status(live_server, ["graphql-transport-ws"], Origin="https://evil.example")
    assert status == 403


def test_an_upgrade_with_graphql_transport_ws_and_no_origin_is_accepted(
    live_server: Server,
) -> None:
    assert _upgrade_status(live_server, ["graphql-transport-ws"]) == 101


def test_a_valid_token_is_acknowledged_and_a_bad_one_closes_4403(live_server: Server) -> None:
    account = register(live_server.url)
    assert init_close_code(live_server.url, account.access_token) is None
    assert init_close_code(live_server.url, "not-a-token") == 4403
