"""How `threadline doctor` reads the admin API's answers: unreachable, API Gateway's own
refusal, a wrong token, a failing API, the deployment's settings, and a public URL other
than the one checked (asked without the admin token, which goes nowhere else)."""

from typing import Any

import pytest

from chalicelib.domain.checks import Verdict
from threadline_cli.doctor import AdminApi, Answer, api_checks

pytestmark = pytest.mark.unit

API = "https://abc123.execute-api.eu-west-1.amazonaws.com/api"
PUBLIC = "https://help.loja.example/api"
SETTINGS = {
    "checks": [
        {"subject": "API", "name": "public URL", "verdict": "passed", "detail": PUBLIC},
        {"subject": "API", "name": "Slack signing secret", "verdict": "passed", "detail": "set"},
    ]
}
THREADLINE_401 = Answer(401, {"error": "missing or invalid bearer token"})


class CannedApi(AdminApi):
    """Answers from a table; records what was probed without the token."""

    def __init__(self, answers: dict[str, Answer], probed: Answer = THREADLINE_401) -> None:
        super().__init__(API + "/", "token")
        self._answers = answers
        self._probed = probed
        self.probes: list[str] = []

    def get(self, path: str) -> Answer:
        return self._answers[path]

    def probe(self, url: str) -> Answer:
        self.probes.append(url)
        return self._probed


def verdicts(api: CannedApi, listed: Answer) -> dict[str, tuple[Verdict, str]]:
    return {c.name: (c.verdict, c.detail) for c in api_checks(api, listed)}


def test_an_api_that_answers_and_takes_the_token_passes_with_its_settings() -> None:
    api = CannedApi({"/admin/checks": Answer(200, SETTINGS)})
    found = verdicts(api, Answer(200, {"shops": []}))
    assert found == {
        "answers": (Verdict.PASSED, API),
        "admin token": (Verdict.PASSED, "accepted"),
        "public URL": (Verdict.PASSED, PUBLIC),
        "Slack signing secret": (Verdict.PASSED, "set"),
        "public URL answers": (Verdict.PASSED, f"a Threadline API answers at {PUBLIC}"),
    }
    # The public URL is asked without the admin token
    assert api.probes == [PUBLIC + "/admin/checks"]


def test_a_public_url_where_no_threadline_api_answers_fails() -> None:
    api = CannedApi({"/admin/checks": Answer(200, SETTINGS)}, probed=Answer(404, None))
    verdict, detail = verdicts(api, Answer(200, {"shops": []}))["public URL answers"]
    assert (verdict, detail) == (
        Verdict.FAILED,
        f"{PUBLIC} answers 404: None, not as a Threadline API",
    )


def test_the_public_url_checked_is_not_asked_again() -> None:
    same: dict[str, Any] = {
        "checks": [{"subject": "API", "name": "public URL", "verdict": "passed", "detail": API}]
    }
    api = CannedApi({"/admin/checks": Answer(200, same)})
    assert "public URL answers" not in verdicts(api, Answer(200, {"shops": []}))
    assert api.probes == []


@pytest.mark.parametrize(
    ("listed", "failing", "detail"),
    [
        (Answer(0, error="ConnectionError"), "answers", f"cannot reach {API}: ConnectionError"),
        (
            Answer(403, {"message": "Missing Authentication Token"}),
            "answers",
            "API Gateway answers 'Missing Authentication Token' for /admin/shops",
        ),
        (THREADLINE_401, "admin token", "refused: 401: missing or invalid bearer token"),
        (
            Answer(503, {"error": "temporarily unavailable, try again"}),
            "answers",
            "GET /admin/shops answered 503: temporarily unavailable, try again",
        ),
    ],
)
def test_an_api_that_does_not_answer_as_it_should_fails_naming_how(
    listed: Answer, failing: str, detail: str
) -> None:
    api = CannedApi({})
    found = verdicts(api, listed)
    assert found[failing] == (Verdict.FAILED, detail)
    assert [name for name, (verdict, _) in found.items() if verdict is Verdict.FAILED] == [failing]
