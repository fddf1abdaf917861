"""Threadline's HTTP routes and event handlers: parse, call a use case, answer.

Every route and event source of the system is listed here. Heavy modules are imported inside
the handlers, so a Lambda cold start pays only for what its event uses.
"""

import functools
import hmac
import html
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from chalice.app import Chalice, CloudWatchEvent, Rate, Request, Response, SNSEvent, SQSEvent

from chalicelib.domain.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Retryable,
    ThreadlineError,
    TooLarge,
    Unauthorized,
)
from chalicelib.settings import (
    EMAIL_EVENTS_TOPIC,
    INBOUND_MAIL_TOPIC,
    INBOUND_QUEUE,
    OUTBOUND_QUEUE,
    TIMERS_QUEUE,
)

if TYPE_CHECKING:
    from chalicelib.bootstrap import Container
    from chalicelib.channels.base import WebhookRequest
    from chalicelib.secrets import DeploymentKeys
    from chalicelib.services.jobs import Job

app = Chalice(app_name="threadline")
P = ParamSpec("P")
R = TypeVar("R")

FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
STATUS_CODES: dict[type[ThreadlineError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Retryable: 503,
}


def _container() -> "Container":
    from chalicelib import bootstrap

    return bootstrap.container()


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


def answers_errors(view: Callable[P, Response]) -> Callable[P, Response]:
    """The one place where errors become HTTP answers: a short JSON reason, never a trace."""

    @functools.wraps(view)
    def answered(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except ThreadlineError as error:
            status = next(code for kind, code in STATUS_CODES.items() if isinstance(error, kind))
            body: dict[str, object] = {"error": error.reason}
            if isinstance(error, BadRequest) and error.errors:
                body["errors"] = error.errors
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return _json(status, body, headers)
        except Exception:
            from chalicelib.bootstrap import logger

            logger.exception("unhandled error")
            return _json(503, {"error": "temporarily unavailable, try again"})

    return answered


def flushes_metrics(handler: Callable[P, R]) -> Callable[P, R]:
    """Writes the invocation's metrics when an event handler ends, as it ends."""

    @functools.wraps(handler)
    def measured(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        finally:
            _container().flush_metrics()

    return measured


def _request() -> Request:
    request = app.current_request
    if request is None:
        raise RuntimeError("called outside an HTTP request")
    return request


def _body() -> bytes:
    """The request's body as it came (chalice types it as text or bytes)."""
    body = _request().raw_body
    return body if isinstance(body, bytes) else body.encode("utf-8")


def _webhook() -> "WebhookRequest":
    """The request as providers signed it: the public URL of the path they called."""
    from chalicelib.channels.base import WebhookRequest

    request = _request()
    settings = _container().settings
    path = request.context["resourcePath"].format(**(request.uri_params or {}))
    headers = {name.lower(): value for name, value in request.headers.items()}
    return WebhookRequest(url=settings.public_url + path, body=_body(), headers=headers)


def _require_admin() -> None:
    scheme, _, token = (_request().headers.get("authorization") or "").partition(" ")

    def admit(keys: "DeploymentKeys") -> None:
        expected = keys.admin_token.get_secret_value()
        if not expected:
            raise Unauthorized("the admin API is disabled: no admin token is configured")
        valid = scheme.lower() == "bearer" and hmac.compare_digest(
            token.encode("utf-8"), expected.encode("utf-8")
        )
        if not valid:
            raise Unauthorized("missing or invalid bearer token")

    _container().deployment.checked(admit)


def _twiml() -> Response:
    return Response(body=EMPTY_TWIML, status_code=200, headers={"Content-Type": "text/xml"})


# Admin ----------------------------------------------------------------------------------


@app.route("/admin/shops/{shop_id}", methods=["PUT"], content_types=["application/json"])
@answers_errors
def put_shop(shop_id: str) -> Response:
    _require_admin()
    created, shop = _container().admin.put(shop_id, _body())
    return _json(201 if created else 200, shop)


@app.route("/admin/shops/{shop_id}", methods=["GET"])
@answers_errors
def get_shop(shop_id: str) -> Response:
    _require_admin()
    return _json(200, _container().admin.get(shop_id))


@app.route("/admin/shops/{shop_id}", methods=["DELETE"])
@answers_errors
def delete_shop(shop_id: str) -> Response:
    _require_admin()
    return _json(200, _container().admin.delete(shop_id))


@app.route("/admin/shops", methods=["GET"])
@answers_errors
def list_shops() -> Response:
    _require_admin()
    return _json(200, _container().admin.every_shop())


@app.route("/admin/shops/{shop_id}/conversations", methods=["GET"])
@answers_errors
def list_conversations(shop_id: str) -> Response:
    _require_admin()
    query = dict(_request().query_params or {})
    return _json(200, _container().admin.conversations(shop_id, query))


@app.route("/admin/shops/{shop_id}/conversations/{conversation_id}", methods=["GET"])
@answers_errors
def get_conversation(shop_id: str, conversation_id: str) -> Response:
    from chalicelib.presentation.transcript import as_csv, as_html

    _require_admin()
    shop, conversation, entries = _container().admin.transcript(shop_id, conversation_id)
    kind = dict(_request().query_params or {}).get("format", "json")
    if kind == "csv":
        return Response(as_csv(entries), headers={"Content-Type": "text/csv; charset=utf-8"})
    if kind == "html":
        page = as_html(conversation, entries, shop.timezone)
        return Response(page, headers={"Content-Type": "text/html; charset=utf-8"})
    if kind != "json":
        raise BadRequest("format must be json, csv or html")
    return _json(
        200,
        {
            "conversation": conversation.model_dump(mode="json"),
            "transcript": [entry.model_dump(mode="json") for entry in entries],
        },
    )


@app.route("/admin/shops/{shop_id}/customers", methods=["GET"])
@answers_errors
def find_customers(shop_id: str) -> Response:
    _require_admin()
    query = dict(_request().query_params or {})
    return _json(200, _container().customers.find(shop_id, query))


@app.route(
    "/admin/shops/{shop_id}/customers/{customer}/links",
    methods=["POST"],
    content_types=["application/json"],
)
@answers_errors
def link_customer(shop_id: str, customer: str) -> Response:
    _require_admin()
    return _json(200, _container().customers.link(shop_id, customer, _body()))


@app.route("/admin/shops/{shop_id}/customers/{customer}/links/{address}", methods=["DELETE"])
@answers_errors
def unlink_customer(shop_id: str, customer: str, address: str) -> Response:
    _require_admin()
    return _json(200, _container().customers.unlink(shop_id, customer, address))


@app.route("/admin/shops/{shop_id}/customers/{customer}", methods=["GET"])
@answers_errors
def export_customer(shop_id: str, customer: str) -> Response:
    _require_admin()
    return _json(200, _container().customer_data.export(shop_id, customer))


@app.route("/admin/shops/{shop_id}/customers/{customer}", methods=["DELETE"])
@answers_errors
def erase_customer(shop_id: str, customer: str) -> Response:
    _require_admin()
    return _json(200, _container().customer_data.erase(shop_id, customer))


@app.route("/admin/shops/{shop_id}/twilio/connect", methods=["POST"])
@answers_errors
def connect_twilio(shop_id: str) -> Response:
    _require_admin()
    return _json(200, _container().twilio_numbers.connect(shop_id))


@app.route("/admin/shops/{shop_id}/telegram/connect", methods=["POST"])
@answers_errors
def connect_telegram(shop_id: str) -> Response:
    _require_admin()
    return _json(200, _container().telegram_bots.connect(shop_id))


@app.route("/admin/shops/{shop_id}/checks", methods=["GET"])
@answers_errors
def check_shop(shop_id: str) -> Response:
    _require_admin()
    return _json(200, _container().checkup.shop(shop_id).model_dump(mode="json"))


@app.route("/admin/checks", methods=["GET"])
@answers_errors
def check_deployment() -> Response:
    _require_admin()
    return _json(200, _container().checkup.deployment().model_dump(mode="json"))


@app.route("/admin/shops/{shop_id}/reports", methods=["GET"])
@answers_errors
def get_report(shop_id: str) -> Response:
    _require_admin()
    query = dict(_request().query_params or {})
    return _json(200, _container().reports.report(shop_id, query).model_dump(mode="json"))


@app.route("/admin/shops/{shop_id}/messages", methods=["POST"], content_types=["application/json"])
@answers_errors
def send_shop_message(shop_id: str) -> Response:
    _require_admin()
    return _json(202, _container().shop_messages.send(shop_id, _body()))


@app.route("/admin/openapi.json", methods=["GET"])
@answers_errors
def openapi() -> Response:
    from pathlib import Path

    _require_admin()
    document = (Path(__file__).parent / "chalicelib" / "openapi.json").read_text("utf-8")
    return Response(document, headers={"Content-Type": "application/json; charset=utf-8"})


# Customers' links to agents' files -------------------------------------------------------


@app.route("/media/{token}", methods=["GET"])
@answers_errors
def open_media(token: str) -> Response:
    """A link sent to a customer: to the file itself, for a few minutes, if it is still
    valid and the file still kept."""
    location = _container().media_links.open(token)
    return Response(
        body="",
        status_code=302,
        headers={
            "Location": location,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


# Twilio (SMS, WhatsApp) -----------------------------------------------------------------


@app.route("/webhooks/twilio/{shop_id}", methods=["POST"], content_types=[FORM])
@answers_errors
def twilio_message(shop_id: str) -> Response:
    _container().intake.customer_message(shop_id, _webhook())
    return _twiml()


@app.route("/webhooks/twilio/{shop_id}/status", methods=["POST"], content_types=[FORM])
@answers_errors
def twilio_status(shop_id: str) -> Response:
    _container().intake.delivery_status(shop_id, _webhook())
    return _twiml()


# Telegram -------------------------------------------------------------------------------


@app.route("/webhooks/telegram/{shop_id}", methods=["POST"], content_types=["application/json"])
@answers_errors
def telegram_update(shop_id: str) -> Response:
    _container().intake.telegram_update(shop_id, _webhook())
    return Response(body="", status_code=200)


# Shopify (orders, compliance) -------------------------------------------------------------


@app.route("/webhooks/shopify/{shop_id}", methods=["POST"], content_types=["application/json"])
@answers_errors
def shopify_webhook(shop_id: str) -> Response:
    _container().shopify_webhooks.receive(shop_id, _webhook())
    return _json(200, {"ok": True})


# WooCommerce (orders) ---------------------------------------------------------------------


@app.route(
    "/webhooks/woocommerce/{shop_id}",
    methods=["POST"],
    # The store's ping when a webhook is saved is a form body; deliveries are JSON.
    content_types=["application/json", "application/x-www-form-urlencoded"],
)
@answers_errors
def woocommerce_webhook(shop_id: str) -> Response:
    _container().woocommerce_webhooks.receive(shop_id, _webhook())
    return _json(200, {"ok": True})


# Meta (WhatsApp Cloud API, Messenger, Instagram) --------------------------------------


@app.route("/webhooks/meta", methods=["GET"])
@answers_errors
def meta_handshake() -> Response:
    challenge = _container().meta_intake.handshake(dict(_request().query_params or {}))
    return Response(body=challenge, status_code=200, headers={"Content-Type": "text/plain"})


@app.route("/webhooks/meta", methods=["POST"], content_types=["application/json"])
@answers_errors
def meta_webhook() -> Response:
    _container().meta_intake.webhook(_webhook())
    return Response(body="", status_code=200)


# Slack ----------------------------------------------------------------------------------


@app.route("/slack/events", methods=["POST"], content_types=["application/json"])
@answers_errors
def slack_events() -> Response:
    challenge = _container().intake.slack_event(_webhook())
    if challenge is not None:
        return _json(200, {"challenge": challenge})
    return Response(body="", status_code=200)


@app.route("/slack/interactions", methods=["POST"], content_types=[FORM])
@answers_errors
def slack_interactions() -> Response:
    answer = _container().intake.slack_interaction(_webhook())
    if answer is not None:
        return _json(200, answer)
    return Response(body="", status_code=200)


@app.route("/slack/commands", methods=["POST"], content_types=[FORM])
@answers_errors
def slack_commands() -> Response:
    return _json(200, _container().intake.slack_command(_webhook()))


@app.route("/slack/install", methods=["GET"])
@answers_errors
def slack_install() -> Response:
    from chalicelib.services.installs import STATE_COOKIE, STATE_LIFETIME

    consent, state = _container().installs.start(dict(_request().query_params or {}))
    seconds = int(STATE_LIFETIME.total_seconds())
    cookie = f"{STATE_COOKIE}={state}; Max-Age={seconds}; Path=/; Secure; HttpOnly; SameSite=Lax"
    return Response(body="", status_code=302, headers={"Location": consent, "Set-Cookie": cookie})


@app.route("/slack/oauth_redirect", methods=["GET"])
@answers_errors
def slack_oauth_redirect() -> Response:
    from chalicelib.services.installs import STATE_COOKIE, state_in_cookies

    request = _request()
    bound = state_in_cookies(request.headers.get("cookie") or "")
    shop, workspace = _container().installs.finish(dict(request.query_params or {}), bound)
    page = (
        "<!doctype html><meta charset=utf-8><title>Threadline is connected</title>"
        f"<p>Threadline is connected to {html.escape(workspace)}: conversations of "
        f"{html.escape(shop.name)} now arrive in Slack. You can close this page.</p>"
    )
    return Response(
        body=page,
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Set-Cookie": f"{STATE_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
        },
    )


# Workers --------------------------------------------------------------------------------


def _work_through(event: SQSEvent, parse: "Callable[[str], Job]") -> dict[str, Any]:
    """One SQS batch of a queue whose bodies `parse` decodes, each job done by its use case."""
    from chalicelib.queues import process_batch
    from chalicelib.services.jobs import run_job

    container = _container()

    def handle(body: str, receive_count: int) -> None:
        run_job(parse(body), container, receive_count)

    return process_batch(
        event.to_dict(),
        cast(Any, event.context),
        handle,
        container.queues,
        container.settings.retry_base_seconds,
    )


@app.on_sqs_message(queue=INBOUND_QUEUE, batch_size=10)
@flushes_metrics
def process_inbound(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.queues import parse_inbound

    return _work_through(event, parse_inbound)


@app.on_sqs_message(queue=OUTBOUND_QUEUE, batch_size=10)
@flushes_metrics
def process_outbound(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.queues import parse_outbound

    return _work_through(event, parse_outbound)


# Email ----------------------------------------------------------------------------------


@app.on_sns_message(topic=INBOUND_MAIL_TOPIC)
@flushes_metrics
def receive_mail(event: SNSEvent) -> None:
    """SES stored a received mail in S3; a failure raises: Lambda tries twice more, then
    leaves the event on the mail dead-letter queue (`threadline dlq redrive mail`)."""
    _container().mail_intake.received(event.message)


@app.on_sns_message(topic=EMAIL_EVENTS_TOPIC)
@flushes_metrics
def email_events(event: SNSEvent) -> None:
    _container().mail_intake.delivery_event(event.message)


@app.on_sqs_message(queue=TIMERS_QUEUE, batch_size=10)
@flushes_metrics
def process_timers(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.queues import parse_timer

    return _work_through(event, parse_timer)


@app.schedule(Rate(1, unit=Rate.MINUTES))
@flushes_metrics
def requeue_unprocessed(event: CloudWatchEvent) -> None:
    _container().redelivery.requeue_unprocessed()


@app.schedule(Rate(5, unit=Rate.MINUTES))
def tell_dead_letters(event: CloudWatchEvent) -> None:
    """Jobs that ran out of tries, told in the Slack thread (or channel) they were for."""
    _container().dead_letters.tell_new()


@app.schedule(Rate(1, unit=Rate.HOURS))
@flushes_metrics
def post_digests(event: CloudWatchEvent) -> None:
    """Each shop's daily digest, at the first run at or after its local digest hour."""
    _container().reports.post_due_digests()
