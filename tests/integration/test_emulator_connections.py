"""The local stack's emulator keeps a caller's connection from one call to the next, as
AWS's endpoints do, instead of opening one (and a server thread) per call."""

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

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


def _signed_for(service: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )


def _client(service: str, port: int) -> Any:
    import boto3
    from botocore.config import Config

    # One connection in the pool: every call of the test goes over the same kept socket.
    return boto3.client(
        service,
        endpoint_url=f"http://{HOST}:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(max_pool_connections=1, retries={"max_attempts": 1}),
    )


def test_a_caller_expecting_100_continue_hears_it_before_sending_the_body(
    emulator_port: int,
) -> None:
    _client("s3", emulator_port).create_bucket(Bucket="continue")
    body = b"x" * 5000
    with socket.create_connection((HOST, emulator_port), timeout=10) as sock:
        sock.sendall(
            (
                "PUT /continue/mail HTTP/1.1\r\n"
                f"Host: {HOST}:{emulator_port}\r\n"
                f"Authorization: {_signed_for('s3')}\r\n"
                "Expect: 100-continue\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
        )
        # boto3 waits a second for it, then sends the body anyway: an answer held back
        # costs every PutObject that second.
        sock.settimeout(0.9)
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.settimeout(10)
        sock.sendall(body)
        final = b""
        while b"HTTP/1.1 200" not in final:
            final += sock.recv(4096)


def test_mail_shaped_calls_share_one_connection_and_keep_their_bodies(
    emulator_port: int,
) -> None:
    """What the local mail server and the inbound-mail handler send, one after another on
    one connection: large PutObjects (100-continue), a publish, streamed GetObjects."""
    s3, sns = _client("s3", emulator_port), _client("sns", emulator_port)
    s3.create_bucket(Bucket="mail")
    topic = sns.create_topic(Name="inbound-mail")["TopicArn"]
    mails = {
        f"inbound-mail/{n}": (f"Subject: {n}\r\n\r\n".encode() + b"\n" * 16000 * n)
        for n in (1, 2, 3)
    }
    attachment = bytes(range(256)) * 400
    started = time.monotonic()
    for key, raw in mails.items():
        s3.put_object(Bucket="mail", Key=key, Body=raw)
        sns.publish(TopicArn=topic, Message=json.dumps({"key": key}))
        assert s3.get_object(Bucket="mail", Key=key)["Body"].read() == raw
        s3.put_object(Bucket="mail", Key=f"{key}/0-photo.jpg", Body=attachment)
    # Six PutObjects: each would wait a second for its 100 Continue were it held back.
    assert time.monotonic() - started < 3
    for key, raw in mails.items():
        assert s3.get_object(Bucket="mail", Key=key)["Body"].read() == raw
        assert s3.get_object(Bucket="mail", Key=f"{key}/0-photo.jpg")["Body"].read() == attachment
