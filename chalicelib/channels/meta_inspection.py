"""What a shop's Meta access token may read, for `threadline doctor`: who the token is
(`GET /me`) and each id the shop claims (`GET /{id}`, default fields), through the Graph API
client, with the token from the secret store, which never leaves the deployment."""

from typing import Any

from chalicelib.channels.base import DeliveryRefused
from chalicelib.channels.meta_graph import GraphApi
from chalicelib.domain.checks import GraphObject, Refusal
from chalicelib.domain.errors import Retryable

# What Meta calls each kind of object, in the order looked for: a Page's or a user's name, a
# WhatsApp number's display number, an Instagram account's username.
LABELS = ("name", "display_phone_number", "username")


class GraphApiInspection:
    def __init__(self, graph: GraphApi) -> None:
        self._graph = graph

    def me(self, token: str) -> GraphObject | Refusal:
        return self.read("me", token)

    def read(self, object_id: str, token: str) -> GraphObject | Refusal:
        try:
            found = self._graph.get(object_id, token)
        except DeliveryRefused as refusal:
            return Refusal(refusal.error_code or "refused", refusal.reason)
        except Retryable as error:
            return Refusal("unreachable", str(error))
        return GraphObject(id=str(found.get("id") or object_id), label=_label(found))


def _label(found: dict[str, Any]) -> str:
    return next((str(found[key]) for key in LABELS if isinstance(found.get(key), str)), "")
