"""Everything Twilio is used for (sending, reconciling, connecting numbers, verifying
webhooks) works with only what the Lambda bundle keeps of twilio: its integration tests,
run again where twilio's async stack and its other products cannot be imported."""

import subprocess
import sys
from pathlib import Path

from tests.as_bundled import left_out

PROJECT_DIR = Path(__file__).resolve().parents[2]
TWILIO_TESTS = (
    "tests/integration/test_twilio_sending.py",
    "tests/integration/test_twilio_connect.py",
    "tests/integration/test_twilio_webhooks.py",
)


def test_the_plugin_leaves_out_what_the_bundle_leaves_out() -> None:
    assert left_out("aiohttp")
    assert left_out("aiohttp_retry.client")
    assert left_out("twilio.rest.conversations")
    assert not left_out("twilio.rest")
    assert not left_out("twilio.rest.api.v2010")
    assert not left_out("twilio.rest.messaging")
    assert not left_out("twilio.request_validator")
    assert not left_out("chalicelib.channels.twilio")


def test_twilios_integration_tests_pass_with_only_what_the_bundle_keeps() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.as_bundled", "-q", "-x", *TWILIO_TESTS],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
