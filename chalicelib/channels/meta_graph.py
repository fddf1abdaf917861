"""A thin typed client of Meta's Graph API: what the WhatsApp Cloud API, Messenger and
Instagram channels call (sends, media look-ups), with Graph's error shape turned into ours.

requests alone, no SDK: the calls are few and plain JSON (docs/adr/ records why).
"""

from dataclasses import dataclass
from typing import Any

from chalicelib.channels.base import DeliveryRefused
from chalicelib.domain.errors import Retryable

GRAPH_API = "https://graph.facebook.com"
# Pinned: Graph versions live about two years, and each changes payloads.
GRAPH_VERSION = "v21.0"
MAX_ANSWER_BYTES = 256 * 1024
# Throttling: Graph's app, user, Page and hourly limits; WhatsApp's throughput, pair and
# spam-rate limits; and Graph's "temporarily unavailable" codes. Each is worth a later try
# in the conversation's queue group, so order holds.
THROTTLING_CODES = frozenset({1, 2, 4, 17, 32, 613, 80007, 130429, 131048, 131056})
# How long a throttled send waits when Meta says nothing more precise.
THROTTLED_RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class GraphError:
    """Graph's `{"error": {...}}`, the parts an agent or operator can act on."""

    status: int
    code: int | None
    subcode: int | None
    message: str

    @property
    def throttled(self) -> bool:
        return self.status == 429 or self.code in THROTTLING_CODES

    @property
    def provider_code(self) -> str | None:
        return None if self.code is None else str(self.code)


def graph_error(status: int, body: object) -> GraphError:
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = error.get("message")
    return GraphError(
        status=status,
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        subcode=subcode if isinstance(subcode, int) and not isinstance(subcode, bool) else None,
        message=str(message)[:160] if isinstance(message, str) else f"HTTP {status}",
    )


class GraphApi:
    """Graph API calls with a shop's access token; the token goes to `base_url` only."""

    def __init__(self, base_url: str = GRAPH_API, timeout_seconds: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds

    def url(self, path: str) -> str:
        return f"{self.base_url}/{GRAPH_VERSION}/{path.lstrip('/')}"

    def post(self, path: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Raises Retryable (throttled, 5xx, unreachable) or DeliveryRefused (any other
        refusal, with Graph's code)."""
        return self._call("POST", path, token, json=payload)

    def get(self, path: str, token: str) -> dict[str, Any]:
        return self._call("GET", path, token)

    def _call(self, method: str, path: str, token: str, **options: Any) -> dict[str, Any]:
        import requests

        try:
            response = requests.request(
                method,
                self.url(path),
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout,
                **options,
            )
        except requests.RequestException as error:
            raise Retryable(f"Graph API unreachable: {type(error).__name__}") from error
        try:
            body: object = response.json() if len(response.content) <= MAX_ANSWER_BYTES else None
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            return body
        if response.status_code == 200:
            raise Retryable("Graph API answered something unreadable")
        refusal = graph_error(response.status_code, body)
        if refusal.throttled:
            raise Retryable(
                f"Graph API throttled (code {refusal.code})", retry_after=THROTTLED_RETRY_SECONDS
            )
        if response.status_code >= 500:
            raise Retryable(f"Graph API answered {response.status_code}")
        raise DeliveryRefused(refusal.provider_code, refusal.message)
