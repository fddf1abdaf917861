"""The reliability run's log search finds what must never be logged, and only that."""

import logging

import pytest

from chalicelib.bootstrap import RedactingFormatter
from chalicelib.bootstrap import logger as app_logger
from reliability.logs import LogWatch


def test_a_secret_or_body_logged_is_found_and_a_number_is_redacted_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the application's logger as in Lambda: its own JSON handler, at INFO (a test
    # run may have had chalice add a console handler of its own, and raise the level)
    service = logging.getLogger("threadline")
    ours = [h for h in service.handlers if isinstance(h.formatter, RedactingFormatter)]
    monkeypatch.setattr(service, "handlers", ours)
    level = service.level
    service.setLevel(logging.INFO)
    watch = LogWatch()
    watch.install()
    try:
        # When a scenario logs a clean line, a secret, a customer's number, and a library
        # a message's text
        app_logger.info("before the scenario: reliability-token-1")
        watch.mark()
        app_logger.info("message stored", message_key="twilio:SM1")
        app_logger.warning("token reliability-token-1 in a field", detail="x")
        app_logger.info("customer +15550100000 wrote")
        logging.getLogger("some.library").warning("body: Where is my order? [m1-0-0]")

        lines, leaks = watch.search(["reliability-token-1", "[m1-", "+15550100000"])
    finally:
        watch.close()
        service.setLevel(level)

    # Then the secret and the text are found; the number never reached the file
    assert (lines, leaks) == (4, 2)
