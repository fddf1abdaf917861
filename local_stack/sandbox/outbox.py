"""The outbox: every call the stand-ins received (and every status callback the Twilio one
sent), recorded for tests and printed readably for people."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from local_stack.sandbox.printing import describe, printable


@dataclass(frozen=True)
class OutboxEntry:
    """One call that reached a stand-in (or one status callback the Twilio stand-in sent)."""

    service: str
    method: str
    payload: dict[str, Any]


class Outbox:
    """Thread-safe record of calls + readable printer."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._entries: list[OutboxEntry] = []
        # One condition guards the list and the stream, so printed order equals recorded
        # order. Its lock is re-entrant, so a wait_for predicate may call entries().
        self._changed = threading.Condition()

    def record(self, entry: OutboxEntry) -> None:
        with self._changed:
            self._entries.append(entry)
            self._write(describe(entry))
            self._changed.notify_all()

    def entries(self, service: str | None = None, method: str | None = None) -> list[OutboxEntry]:
        with self._changed:
            return [
                entry
                for entry in self._entries
                if (service is None or entry.service == service)
                and (method is None or entry.method == method)
            ]

    def wait_for(
        self, predicate: Callable[[OutboxEntry], bool], timeout: float = 10.0
    ) -> OutboxEntry:
        """Return the first entry, already recorded or still to come, matching `predicate`."""
        deadline = time.monotonic() + timeout
        checked = 0
        with self._changed:
            while True:
                for entry in self._entries[checked:]:
                    if predicate(entry):
                        return entry
                checked = len(self._entries)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching outbox entry within {timeout:g}s "
                        f"({len(self._entries)} entries recorded)"
                    )
                self._changed.wait(remaining)

    def note(self, line: str) -> None:
        """Print a line that is not a call (e.g. a stand-in's own trouble); nothing is recorded."""
        with self._changed:
            self._write(printable(line))

    def _write(self, text: str) -> None:
        if self._stream is None:
            return
        try:
            self._stream.write(text + "\n")
            self._stream.flush()
        except UnicodeEncodeError:
            # A terminal that cannot show a script still gets every character, escaped.
            encoding = getattr(self._stream, "encoding", None) or "ascii"
            safe = (text + "\n").encode(encoding, "backslashreplace").decode(encoding)
            try:
                self._stream.write(safe)
                self._stream.flush()
            except (OSError, ValueError):
                pass
        except (OSError, ValueError):
            # A closed terminal or pipe must never break the stand-in that is printing.
            pass
