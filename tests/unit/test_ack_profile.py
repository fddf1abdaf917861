"""The ack profile's areas: each function's own time goes to the area of its file, the
standard library's to its callers' areas in proportion to what each spent in it."""

import pytest

from bench.ack_profile import area_of, by_area

APP = ("/srv/app/chalicelib/channels/twilio.py", 10, "verify")
BOTO = ("/venv/site-packages/botocore/client.py", 20, "_make_api_call")
HMAC = ("/usr/lib/python3.11/hmac.py", 30, "new")
DIGEST = ("~", 0, "<built-in method _hashlib.hmac_new>")


def test_files_fall_in_their_areas() -> None:
    assert area_of(APP[0]) == "channels: form / JSON read, checked"
    assert area_of(BOTO[0]) == "boto3 (the floor)"
    assert area_of("/venv/site-packages/chalice/test.py") == "chalice's test client (not in Lambda)"
    assert area_of("/venv/site-packages/chalice/app.py") == "chalice: event to Request, routing"
    assert area_of(HMAC[0]) is None
    # powertools' user-agent hook runs in every boto3 call, the floor's included
    hook = "/venv/site-packages/aws_lambda_powertools/shared/user_agent.py"
    assert area_of(hook) == "boto3 (the floor)"
    cache = "/venv/site-packages/aws_lambda_powertools/utilities/parameters/base.py"
    assert area_of(cache) == "shop & secrets cache (powertools)"


def test_standard_library_time_is_charged_to_its_callers_in_proportion() -> None:
    # Given hmac.new called from the app (3 ms in it) and from botocore (1 ms), and the
    # builtin it calls
    stats = {
        APP: (1, 1, 0.010, 0.014, {}),
        BOTO: (1, 1, 0.020, 0.021, {}),
        HMAC: (2, 2, 0.002, 0.004, {APP: (1, 1, 0.0015, 0.003), BOTO: (1, 1, 0.0005, 0.001)}),
        DIGEST: (2, 2, 0.002, 0.002, {HMAC: (2, 2, 0.002, 0.002)}),
    }
    # When the time is shared out by area
    seconds = by_area(stats)
    # Then each caller takes its part of hmac.new and of what hmac.new called
    assert seconds["channels: form / JSON read, checked"] == pytest.approx(0.010 + 0.003)
    assert seconds["boto3 (the floor)"] == pytest.approx(0.020 + 0.001)
    assert sum(seconds.values()) == pytest.approx(0.034)
