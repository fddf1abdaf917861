"""What the application logs during a run, kept apart and searched for what must never be
logged: secrets, message bodies, customers' numbers."""

import logging
import tempfile
from collections.abc import Iterable
from typing import Any


class LogWatch:
    """Sends the application's log lines (and other libraries' warnings) to a file of its
    own instead of the console, as Lambda would send them to CloudWatch."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._start = 0
        self._streams: list[tuple[logging.StreamHandler[Any], Any]] = []
        self._capture: logging.Handler | None = None

    def install(self) -> None:
        from chalicelib.bootstrap import RedactingFilter

        for handler in logging.getLogger("threadline").handlers:
            if isinstance(handler, logging.StreamHandler):
                self._streams.append((handler, handler.setStream(self._file)))
        # Other libraries' lines reach Lambda's handler on the root logger, redacted there;
        # the application's own propagate there too, and are written once, above.
        self._capture = logging.StreamHandler(self._file)
        self._capture.addFilter(lambda record: not record.name.startswith("threadline"))
        self._capture.addFilter(RedactingFilter())
        logging.getLogger().addHandler(self._capture)

    def close(self) -> None:
        for handler, stream in self._streams:
            handler.setStream(stream)
        if self._capture is not None:
            logging.getLogger().removeHandler(self._capture)
        self._file.close()

    def mark(self) -> None:
        """Starts a scenario's lines."""
        self._file.flush()
        self._file.seek(0, 2)
        self._start = self._file.tell()

    def search(self, forbidden: Iterable[str]) -> tuple[int, int]:
        """(lines since the mark, lines holding any of `forbidden`)."""
        self._file.flush()
        self._file.seek(self._start)
        lines = self._file.read().splitlines()
        self._file.seek(0, 2)
        words = [word for word in forbidden if word]
        return len(lines), sum(1 for line in lines if any(word in line for word in words))
