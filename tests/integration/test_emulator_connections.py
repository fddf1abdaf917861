"""The local stack's emulator keeps a caller's connection from one call to the next, as
AWS's endpoints do, instead of opening one (and a server thread) per call."""

import http.client
import json
from collections.abc import Callable, Iterator

import pytest

from local_stack.emulator import start_emulator
from local_stack.moto_patches import patch_emulator
from local_stack.ports import free_port

HOST = "127.0.0.1"
LIST_TABLES = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=local/20260101/eu-west-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0"
    ),
}


@pytest.fixture(scope="module")
def emulator_port() -> Iterator[int]:
    port = free_port()
    stop: Callable[[], None] = start_emulator(HOST, port)
    try:
        yield port
    finally:
        stop()


def _list_tables(connection: http.client.HTTPConnection, **headers: str) -> tuple[int, str]:
    connection.request("POST", "/", body=json.dumps({}), headers={**LIST_TABLES, **headers})
    response = connection.getresponse()
    body = response.read()
    assert "TableNames" in json.loads(body)
    return response.status, response.getheader("Connection", "")


def test_calls_one_after_another_share_one_connection(emulator_port: int) -> None:
    connection = http.client.HTTPConnection(HOST, emulator_port, timeout=10)
    try:
        assert _list_tables(connection) == (200, "")
        kept = connection.sock
        assert kept is not None
        for _ in range(3):
            assert _list_tables(connection) == (200, "")
            assert connection.sock is kept
    finally:
        connection.close()


def test_a_body_of_unknown_length_still_closes_its_connection(emulator_port: int) -> None:
    connection = http.client.HTTPConnection(HOST, emulator_port, timeout=10)
    try:
        connection.request(
            "POST", "/", body=iter([b"{}"]), headers=LIST_TABLES, encode_chunked=True
        )
        response = connection.getresponse()
        response.read()
        assert response.getheader("Connection") == "close"
    finally:
        connection.close()


def test_a_caller_asking_to_close_gets_its_connection_closed(emulator_port: int) -> None:
    connection = http.client.HTTPConnection(HOST, emulator_port, timeout=10)
    try:
        status, _ = _list_tables(connection, Connection="close")
        assert status == 200
        assert connection.sock is None
    finally:
        connection.close()


def test_applying_the_patches_twice_keeps_one_wrapper() -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    patch_emulator()
    once = (MotoRequestHandler.run_wsgi, MotoRequestHandler.send_header)
    patch_emulator()
    assert (MotoRequestHandler.run_wsgi, MotoRequestHandler.send_header) == once
