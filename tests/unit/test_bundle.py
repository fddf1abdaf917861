"""The Lambda bundle keeps the AWS SDK's models of the services the functions call, and the
functions can ask for no other."""

import zipfile
from pathlib import Path

import pytest

from chalicelib.bootstrap import AWS_SERVICES, _aws_client
from threadline_cli.bundle import kept, trim

pytestmark = pytest.mark.unit


def test_only_the_models_of_the_services_called_are_kept() -> None:
    assert kept("botocore/data/dynamodb/2012-08-10/service-2.json.gz")
    assert kept("botocore/data/sesv2/2019-09-27/paginators-1.json")
    assert not kept("botocore/data/ec2/2016-11-15/service-2.json.gz")
    assert not kept("botocore/data/ses/2010-12-01/service-2.json.gz")
    # The models' shared files, and everything that is not a model
    assert kept("botocore/data/endpoints.json")
    assert kept("botocore/data/partitions.json")
    assert kept("botocore/client.py")
    assert kept("chalicelib/bootstrap.py")


def test_twilios_async_stack_and_its_products_the_adapter_does_not_call_are_left_out() -> None:
    for name in (
        "aiohttp/client.py",
        "aiohttp-3.14.5.dist-info/RECORD",
        "aiohttp_retry/client.py",
        "multidict/_multidict.cpython-313-x86_64-linux-gnu.so",
        "yarl-1.25.1.dist-info/METADATA",
        "attr/__init__.py",
        "attrs/__init__.py",
        "twilio/rest/conversations/v1/conversation/__init__.py",
        "twilio/rest/chat/__init__.py",
        # the packaging machine's bytecode of the app
        "chalicelib/__pycache__/bootstrap.cpython-311.pyc",
    ):
        assert not kept(name), name
    for name in (
        "twilio/__init__.py",
        "twilio/request_validator.py",
        "twilio/http/http_client.py",
        "twilio/rest/__init__.py",
        "twilio/rest/api/v2010/account/message/__init__.py",
        "twilio/rest/messaging/v2/channels_sender.py",
        "twilio-9.13.0.dist-info/RECORD",
        # Names that only begin like a left-out one
        "attrs_helper/__init__.py",
        "typing_extensions.py",
    ):
        assert kept(name), name


def test_a_trimmed_bundle_holds_the_rest_byte_for_byte(tmp_path: Path) -> None:
    bundle = tmp_path / "deployment.zip"
    members = {
        "app.py": b"app",
        "botocore/data/sqs/2012-11-05/service-2.json": b"sqs",
        "botocore/data/ec2/2016-11-15/service-2.json": b"ec2" * 1000,
        "botocore/data/_retry.json": b"{}",
        "twilio/rest/api/__init__.py": b"api",
        "twilio/rest/video/__init__.py": b"video",
        "aiohttp/__init__.py": b"aiohttp",
    }
    with zipfile.ZipFile(bundle, "w") as writing:
        for name, content in members.items():
            writing.writestr(name, content)

    trim(bundle)

    with zipfile.ZipFile(bundle) as reading:
        assert {name: reading.read(name) for name in reading.namelist()} == {
            name: content
            for name, content in members.items()
            if not any(gone in name for gone in ("ec2", "video", "aiohttp"))
        }


def test_a_client_of_a_service_the_bundle_has_no_model_of_is_refused() -> None:
    assert "ses" not in AWS_SERVICES
    with pytest.raises(ValueError, match="ses is not among"):
        _aws_client("ses")
