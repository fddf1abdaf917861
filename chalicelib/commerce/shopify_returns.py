"""Returns on Shopify's Admin GraphQL API (`ReturnDesk`): the order's returnable fulfilled
lines (`returnableFulfillments`), then `returnCreate`.

`returnCreate` rather than `returnRequest` + `returnApproveRequest`: the agent confirming it
in Slack is the approval, and one call leaves no half-made state (a request made whose
approval was lost) for a retry to reconcile; the return opens approved (status OPEN).
`returnCreate` takes no idempotency key: the claim of the submission and the returnable
quantities read right before keep a retry from returning the same items twice (Shopify
refuses more than is returnable). Shopify's `userErrors` become a `CommerceRefused` whose
reason says, in plain words, why no return was opened. Nothing of a customer is logged.
"""

from typing import Any

from pydantic import Field

from chalicelib.commerce.sessions import SessionOnFirstUse
from chalicelib.commerce.shopify import ShopifyGraphQL
from chalicelib.commerce.shopify_refunds import (
    ShopifyAnswer,
    UserError,
    read_answer,
    store_client,
)
from chalicelib.domain.errors import Retryable
from chalicelib.domain.orders import CommerceRefused
from chalicelib.domain.refunds import LINES_OFFERED
from chalicelib.domain.returns import ReturnableLine, ReturnableOrder, ReturnMade, ReturnPlan
from chalicelib.domain.shop import Shop, ShopSecrets

RETURN_ORDER_QUERY = """
query ThreadlineReturnOrder($query: String!) {
  orders(first: 1, query: $query) { nodes { id name } }
}
"""

RETURNABLE_QUERY = f"""
query ThreadlineReturnableFulfillments($orderId: ID!) {{
  returnableFulfillments(orderId: $orderId, first: {LINES_OFFERED}) {{
    nodes {{
      id
      returnableFulfillmentLineItems(first: {LINES_OFFERED}) {{
        nodes {{
          quantity
          fulfillmentLineItem {{ id lineItem {{ title }} }}
        }}
      }}
    }}
  }}
}}
"""

RETURN_MUTATION = """
mutation ThreadlineReturnCreate($returnInput: ReturnInput!) {
  returnCreate(returnInput: $returnInput) {
    return { id name status }
    userErrors { field message code }
  }
}
"""


class _Node(ShopifyAnswer):
    id: str
    name: str


class _LineItem(ShopifyAnswer):
    title: str


class _FulfillmentLineItem(ShopifyAnswer):
    id: str
    lineItem: _LineItem


class _ReturnableLineNode(ShopifyAnswer):
    quantity: int
    fulfillmentLineItem: _FulfillmentLineItem


class _ReturnableLines(ShopifyAnswer):
    nodes: list[_ReturnableLineNode] = Field(default_factory=list)


class _Returnable(ShopifyAnswer):
    id: str
    returnableFulfillmentLineItems: _ReturnableLines


class _Return(ShopifyAnswer):
    id: str
    name: str
    status: str


class _ReturnError(UserError):
    code: str | None = None


class _ReturnCreate(ShopifyAnswer):
    return_: _Return | None = Field(default=None, alias="return")
    userErrors: list[_ReturnError] = Field(default_factory=list)


def return_refusal_in_plain_words(errors: list[_ReturnError]) -> str:
    """Why Shopify refused a return, for the thread."""
    first = errors[0]
    field = first.field or []
    message = first.message.strip()[:300]
    if "quantity" in field:
        return f"some of those items can no longer be returned in that number ({message})"
    if "orderId" in field:
        return f"Shopify no longer has this order ({message})"
    return message or "Shopify gave no reason"


class ShopifyReturns(SessionOnFirstUse):
    """`ReturnDesk` over Shopify."""

    def __init__(self, api_url: str | None = None) -> None:
        self._api_url = api_url or None

    def _client(self, shop: Shop, secrets: ShopSecrets) -> ShopifyGraphQL:
        return store_client(self._session, self._api_url, shop, secrets)

    def returnable_order(
        self, shop: Shop, secrets: ShopSecrets, order_number: str
    ) -> ReturnableOrder | None:
        """The order of this number with what can still be returned of each fulfilled line;
        None if the store has no such order."""
        client = self._client(shop, secrets)
        data = client.query(RETURN_ORDER_QUERY, {"query": f'name:"#{order_number}"'})
        nodes = read_answer(data, lambda d: [_Node.model_validate(n) for n in d["orders"]["nodes"]])
        node = next((n for n in nodes if n.name.lstrip("#") == order_number), None)
        if node is None:
            return None
        data = client.query(RETURNABLE_QUERY, {"orderId": node.id})
        fulfilments = read_answer(
            data,
            lambda d: [_Returnable.model_validate(n) for n in d["returnableFulfillments"]["nodes"]],
        )
        lines = [
            ReturnableLine(
                fulfillment_line_item_id=item.fulfillmentLineItem.id,
                title=item.fulfillmentLineItem.lineItem.title[:255],
                quantity=max(0, item.quantity),
            )
            for fulfilment in fulfilments
            for item in fulfilment.returnableFulfillmentLineItems.nodes
        ]
        return ReturnableOrder(
            order_id=node.id, number=order_number, lines=tuple(lines[:LINES_OFFERED])
        )

    def create_return(self, shop: Shop, secrets: ShopSecrets, plan: ReturnPlan) -> ReturnMade:
        """Opens the return of `plan` (approved: status OPEN)."""
        return_input: dict[str, Any] = {
            "orderId": plan.order_id,
            "returnLineItems": [
                {
                    "fulfillmentLineItemId": line.fulfillment_line_item_id,
                    "quantity": line.quantity,
                    "returnReason": plan.reason.value,
                    **({"returnReasonNote": plan.note} if plan.note else {}),
                }
                for line in plan.lines
            ],
        }
        data = self._client(shop, secrets).query(RETURN_MUTATION, {"returnInput": return_input})
        answer = read_answer(data, lambda d: _ReturnCreate.model_validate(d["returnCreate"]))
        if answer.userErrors:
            raise CommerceRefused(return_refusal_in_plain_words(answer.userErrors))
        if answer.return_ is None:
            raise Retryable("Shopify's return answer had no return")
        return ReturnMade(
            return_id=answer.return_.id,
            name=answer.return_.name,
            status=answer.return_.status.lower(),
        )
