"""The reliability run's log search finds what must never be logged, and only that."""

import logging

from chalicelib.bootstrap import logger as app_logger
from reliability.logs import LogWatch


def test_a_secret_or_body_logged_is_found_and_a_number_is_redacted_first() -> None:
    watch = LogWatch()
    watch.install()
    try:
        app_logger.info("before the scenario: reliability-token-1")
        watch.mark()
        app_logger.info("message stored", message_key="twilio:SM1")
        app_logger.warning("token reliability-token-1 in a field", detail="x")
        app_logger.info("customer +15550100000 wrote")
        logging.getLogger("some.library").warning("body: Where is my order? [m1-0-0]")

        lines, leaks = watch.search(["reliability-token-1", "[m1-", "+15550100000"])
    finally:
        watch.close()

    assert (lines, leaks) == (4, 2)
