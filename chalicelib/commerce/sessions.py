"""The HTTP session a commerce desk makes on first use."""

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


class SessionOnFirstUse:
    """Gives a desk `_session`, made when the desk first calls its platform: every webhook's
    intake holds the desks, and importing requests would cost the acks that never reach a
    platform a tenth of a second at cold start."""

    @cached_property
    def _session(self) -> "requests.Session":
        import requests

        return requests.Session()
