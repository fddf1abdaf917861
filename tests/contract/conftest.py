"""The contract suite: each case runs against the in-memory fakes of `tests/fakes.py` and
against the real adapters over moto, so the fakes the use-case tests rely on cannot drift
from what DynamoDB, SQS, Scheduler and Secrets Manager do.

A test asks for `backend` ("fake" or "moto"); the fixtures of each area build the port
under test for that backend."""

import boto3
import pytest

from chalicelib.bootstrap import Repositories
from chalicelib.settings import TABLE_NAME
from tests.integration.conftest import aws, aws_models, provisioned

__all__ = ["aws", "aws_models", "provisioned"]


@pytest.fixture(params=["fake", "moto"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def moto_repositories(aws: None) -> Repositories:
    """The real repositories over the provisioned table, no shop cache."""
    return Repositories(boto3.client("dynamodb"), TABLE_NAME, shop_cache_seconds=0)
