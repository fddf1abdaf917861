import pytest

# urllib3 (under requests, which the language detector's package imports) opens a socket at
# import to learn whether the machine has IPv6, without traffic: imported before sockets are
# blocked, so that no unit test sees it and the answer is the machine's, not pytest-socket's.
import urllib3  # noqa: F401


@pytest.fixture(autouse=True)
def _no_network(socket_disabled: None) -> None:
    """Unit tests are pure: any socket they open is a bug."""
