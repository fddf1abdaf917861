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


def test_a_trimmed_bundle_holds_the_rest_byte_for_byte(tmp_path: Path) -> None:
    bundle = tmp_path / "deployment.zip"
    members = {
        "app.py": b"app",
        "botocore/data/sqs/2012-11-05/service-2.json": b"sqs",
        "botocore/data/ec2/2016-11-15/service-2.json": b"ec2" * 1000,
        "botocore/data/_retry.json": b"{}",
    }
    with zipfile.ZipFile(bundle, "w") as writing:
        for name, content in members.items():
            writing.writestr(name, content)

    trim(bundle)

    with zipfile.ZipFile(bundle) as reading:
        assert {name: reading.read(name) for name in reading.namelist()} == {
            name: content for name, content in members.items() if "ec2" not in name
        }


def test_a_client_of_a_service_the_bundle_has_no_model_of_is_refused() -> None:
    assert "ses" not in AWS_SERVICES
    with pytest.raises(ValueError, match="ses is not among"):
        _aws_client("ses")
