"""The deployment's secret as the operator rotates it: in the emulator's Secrets Manager,
taken by the running API without a restart."""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from chalicelib.settings import DEPLOYMENT_SECRET
from local_stack.constants import LOCAL_ADMIN_TOKEN, LOCAL_REGION, LOCAL_SIGNING_SECRET
from local_stack.sandbox.outbox import Outbox
from tests.e2e.conftest import RunningStack, http, running_stack


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[RunningStack]:
    """A stack of this test's own: no check was refused before, so the first refusal reads
    the secret again at once (the next may not for 10 seconds), and the rotated token is
    never rotated back."""
    with running_stack(Outbox(), tmp_path / "stack.log") as running:
        yield running


def test_the_admin_token_and_signing_secret_live_in_the_emulators_secrets_manager(
    fresh_stack: RunningStack,
) -> None:
    # Given the deployment's secret, which the stack created in the emulator as the
    # template says and filled with the local values
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=fresh_stack.aws,
        region_name=LOCAL_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    kept = json.loads(secrets.get_secret_value(SecretId=DEPLOYMENT_SECRET)["SecretString"])
    assert (kept["admin_token"], kept["slack_signing_secret"]) == (
        LOCAL_ADMIN_TOKEN,
        LOCAL_SIGNING_SECRET,
    )
    assert fresh_stack.admin("GET", "/admin/shops").status == 200
    # When the operator rotates the admin token there
    rotated = {**kept, "admin_token": "a-rotated-local-admin-token"}
    secrets.put_secret_value(SecretId=DEPLOYMENT_SECRET, SecretString=json.dumps(rotated))
    bearer = {"Authorization": "Bearer a-rotated-local-admin-token"}
    # Then the running API takes the new token (the refused check reads the secret again),
    # and refuses the old one
    assert answered(lambda: http("GET", fresh_stack.api + "/admin/shops", headers=bearer).status)
    assert fresh_stack.admin("GET", "/admin/shops").status == 401


def answered(status: Callable[[], int], seconds: float = 15) -> bool:
    """Whether a request is answered 200 within `seconds`, tried every half second."""
    deadline = time.monotonic() + seconds
    while status() != 200:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True
