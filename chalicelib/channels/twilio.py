"""SMS and WhatsApp through Twilio Programmable Messaging.

Inbound webhooks are form posts signed with the account's auth token over the exact public
URL; WhatsApp addresses carry a `whatsapp:` prefix. Replies go out through the official
client, from the address the customer wrote to, with a status callback. `TwilioNumbers`
points a shop's numbers' webhooks at this deployment.
"""

import hmac
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlparse

from chalicelib.channels.base import (
    DeliveryRefused,
    MediaFile,
    SendReceipt,
    WebhookRequest,
    download,
)
from chalicelib.domain.errors import BadRequest, Conflict, Forbidden, Retryable
from chalicelib.domain.jobs import DeliveryUpdate
from chalicelib.domain.messages import DeliveryStatus, InboundMessage, MediaItem, OutboundMessage
from chalicelib.domain.outside_input import whole_number
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.domain.vocabulary import Channel

if TYPE_CHECKING:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.request_validator import RequestValidator

    from chalicelib.domain.checks import NumberWebhook, Refusal

TWILIO_API = "https://api.twilio.com"
# The Senders API (WhatsApp senders) has a host of its own.
MESSAGING_API = "https://messaging.twilio.com"
AUTHENTICATION_FAILED = 20003
MAX_REASON = 160
MAX_FORM_FIELDS = 200
# Far above any message Twilio relays (1,600 characters). Percent-encoded, as Twilio sends
# it, a form this size stays under SQS's 256 KiB once queued even if JSON escapes every
# character (3 bytes become at most 6); raw bytes can grow more (a control character
# becomes 6), and queues.py refuses that job.
MAX_FORM_BYTES = 96 * 1024
RECONCILE_LOOKBACK = 20
REPORTED_STATUSES = frozenset(s.value for s in DeliveryStatus) - {
    DeliveryStatus.PENDING.value,
    DeliveryStatus.DISPATCHING.value,
}
RECONCILE_CLOCK_SKEW = timedelta(minutes=2)
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_ADDRESS = re.compile(r"^(whatsapp:)?\+?[0-9A-Za-z]{2,20}$")
# The official client's products this adapter calls (`client.messages` and the numbers and
# applications are `api`'s; the services and WhatsApp senders `messaging`'s): the bundle
# keeps these and leaves the generated clients of the other products out.
TWILIO_PRODUCTS = frozenset({"api", "messaging"})

# What an agent can do about the errors customers' replies most often meet.
ERROR_EXPLANATIONS = {
    "21211": "the customer's number is not a valid phone number",
    "21408": "sending to this country is not enabled on the Twilio account",
    "21610": "the customer has opted out (replied STOP); they must text START first",
    "21614": "the customer's number cannot receive SMS",
    "30003": "the customer's phone is switched off or unreachable",
    "30004": "the message was blocked (the customer or their carrier blocks it)",
    "30005": "the customer's number is unknown or no longer exists",
    "30006": "the number is a landline or its carrier cannot receive it",
    "30007": "the carrier filtered the message as spam",
    "30008": "the carrier reported an unknown error; try again later",
    "63003": "the customer's WhatsApp number could not be reached",
    "63016": "more than 24 hours passed since the customer's last WhatsApp message: only an "
    "approved template can be sent now",
}


def _form(request: WebhookRequest) -> dict[str, str]:
    return dict(_form_pairs(request.body))


class FormFields(dict[str, str]):
    """A webhook's form fields, one value each, as twilio's signing reads them. It asks a
    mapping for each field's values with `getall` (Flask's MultiDict), then `getlist`
    (Django's), and only then reads it as a plain dict: two exceptions raised and caught per
    field, unless the mapping answers `getall` itself."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


# verify() and parse() read the same body on the ack path: it is decoded once.
@lru_cache(maxsize=4)
def _form_pairs(body: bytes) -> tuple[tuple[str, str], ...]:
    if len(body) > MAX_FORM_BYTES:
        raise BadRequest("body is larger than any Twilio webhook")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest("body is not a valid form") from error
    return tuple(pairs)


def _signed(
    validator: "RequestValidator", url: str, params: dict[str, str], signature: str
) -> bool:
    """Whether `signature` is the account's over `url` and `params`, by twilio's own signing.

    Twilio signs the URL as the webhook was configured, with or without the scheme's default
    port; twilio's `validate` computes both forms on every request. The form without the
    port (how the public URL is written) is tried first and the other only if it fails: one
    HMAC for a genuine request instead of two, both for a forged one, each compared in
    constant time."""
    from twilio.request_validator import add_port, remove_port

    given = signature.encode("utf-8")
    parsed = urlparse(url)
    return any(
        hmac.compare_digest(
            validator.compute_signature(form(parsed), params).encode("utf-8"), given
        )
        for form in (remove_port, add_port)
    )


def _required(form: dict[str, str], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = form.get(name, "")
    if not value or (pattern is not None and not pattern.fullmatch(value)):
        raise BadRequest(f"missing or invalid {name}")
    return value


class TwilioChannel:
    name = "twilio"

    def __init__(self, api_url: str = TWILIO_API, timeout_seconds: float = 10.0) -> None:
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout_seconds

    def verify(self, request: WebhookRequest, shop: Shop, secrets: ShopSecrets) -> None:
        from twilio.request_validator import RequestValidator

        signature = request.headers.get("x-twilio-signature")
        token = secrets.twilio_auth_token
        if not signature:
            raise Forbidden("missing X-Twilio-Signature")
        if shop.twilio is None or token is None:
            raise Forbidden("this shop has no Twilio account")
        params = FormFields(_form_pairs(request.body))
        if not _signed(RequestValidator(token.get_secret_value()), request.url, params, signature):
            raise Forbidden("invalid X-Twilio-Signature")
        if params.get("AccountSid") != shop.twilio.account_sid:
            raise Forbidden("AccountSid does not belong to this shop")

    def parse(
        self, request: WebhookRequest, shop: Shop, *, received_at: datetime
    ) -> InboundMessage:
        form = _form(request)
        sender = _required(form, "From", _ADDRESS)
        recipient = _required(form, "To", _ADDRESS)
        # Only the shop's Twilio numbers: `_ADDRESS` admits none of its other addresses.
        if shop.twilio is None or recipient not in shop.twilio.addresses():
            # Shops may share a Twilio account: a number answers for the shop that owns it.
            raise Forbidden(f"To {recipient} is not one of this shop's numbers")
        channel = Channel.WHATSAPP if sender.startswith("whatsapp:") else Channel.SMS
        media_count = whole_number(form.get("NumMedia") or "0")
        if media_count is None:
            raise BadRequest("missing or invalid NumMedia")
        media = tuple(
            MediaItem(url=form[f"MediaUrl{n}"], content_type=form.get(f"MediaContentType{n}"))
            for n in range(min(media_count, 10))
            if form.get(f"MediaUrl{n}")
        )
        return InboundMessage(
            shop_id=shop.shop_id,
            channel=channel,
            provider="twilio",
            provider_message_id=_required(form, "MessageSid", _SID),
            customer_address=sender,
            shop_address=recipient,
            customer_name=form.get("ProfileName") or None,
            text=form.get("Body", ""),
            media=media,
            received_at=received_at,
        )

    def parse_status(self, request: WebhookRequest, shop: Shop) -> DeliveryUpdate | None:
        form = _form(request)
        sid = _required(form, "MessageSid", _SID)
        status = _required(form, "MessageStatus")
        if status not in REPORTED_STATUSES:
            # Twilio adds statuses without notice; one we do not track changes nothing.
            return None
        return DeliveryUpdate(
            shop_id=shop.shop_id,
            provider_message_id=sid,
            status=DeliveryStatus(status),
            error_code=form.get("ErrorCode") or None,
        )

    def send(
        self,
        message: OutboundMessage,
        shop: Shop,
        secrets: ShopSecrets,
        status_callback: str,
        media_urls: tuple[str, ...] = (),
    ) -> SendReceipt:
        options: dict[str, Any] = {"media_url": list(media_urls)} if media_urls else {}
        if message.content_sid:
            # An approved template (WhatsApp outside the 24-hour window) instead of the text.
            options = {
                "content_sid": message.content_sid,
                "content_variables": json.dumps(message.content_variables or {}),
            }
        else:
            options["body"] = message.text
        with _provider_errors(self):
            created = self._client(shop, secrets).messages.create(
                to=message.to,
                from_=message.from_,
                status_callback=status_callback,
                **options,
            )
        return SendReceipt(
            provider_message_id=str(created.sid),
            status=DeliveryStatus(created.status or DeliveryStatus.QUEUED),
        )

    def sent_like(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> list[SendReceipt]:
        # Twilio has no idempotency key for messages: an interrupted send is recognised by
        # the same text to the same customer from the same number since the reply was made.
        since = message.created_at - RECONCILE_CLOCK_SKEW
        with _provider_errors(self):
            recent = self._client(shop, secrets).messages.list(
                to=message.to, from_=message.from_, limit=RECONCILE_LOOKBACK
            )
        return [
            SendReceipt(
                provider_message_id=str(candidate.sid),
                status=DeliveryStatus(candidate.status or DeliveryStatus.QUEUED),
            )
            # Twilio lists newest first; the oldest unclaimed match is the likeliest.
            for candidate in reversed(recent)
            if candidate.body == message.text
            and (candidate.date_created is None or candidate.date_created >= since)
        ]

    def _client(self, shop: Shop, secrets: ShopSecrets) -> Any:
        client = _account_client(shop, secrets, self._api_url, self._timeout)
        if client is None:
            raise DeliveryRefused(None, "this shop has no Twilio account")
        return client

    def fetch_media(self, item: MediaItem, shop: Shop, secrets: ShopSecrets) -> MediaFile | None:
        import mimetypes

        url = item.url
        if url.startswith(TWILIO_API + "/"):
            url = self._api_url + url[len(TWILIO_API) :]
        token = secrets.twilio_auth_token
        # The account's credentials go to Twilio's API and nowhere else.
        if not url.startswith(self._api_url + "/") or shop.twilio is None or token is None:
            return None
        fetched = download(
            url, "Twilio", self._timeout, auth=(shop.twilio.account_sid, token.get_secret_value())
        )
        if fetched is None or fetched.content is None:
            return None
        content_type = item.content_type or fetched.content_type or "application/octet-stream"
        extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
        filename = url.rstrip("/").rsplit("/", 1)[-1] + extension
        return MediaFile(filename=filename, content_type=content_type, content=fetched.content)

    def describe_error(self, error_code: str | None) -> str:
        if error_code is None:
            return "the provider gave no reason"
        return ERROR_EXPLANATIONS.get(error_code, f"Twilio error {error_code}")


class NumberResult(StrEnum):
    CONNECTED = "connected"
    # The webhook is set, but something else on the number decides where messages go.
    MANUAL = "manual"
    NOT_FOUND = "not_found"
    FAILED = "failed"


@dataclass(frozen=True)
class NumberConnection:
    """What pointing one of a shop's numbers at this deployment came to."""

    number: str
    channel: Channel
    result: NumberResult
    detail: str


class TwilioNumbers:
    """Points a shop's numbers at this deployment through Twilio's API, with the shop's own
    credentials: an SMS number's messaging webhook (its IncomingPhoneNumber's `SmsUrl`), a
    WhatsApp sender's webhook and status callback (the Senders API). A number's own
    `StatusCallback` is left alone: it reports voice calls, and every reply names its
    message status callback itself."""

    def __init__(self, api_url: str = TWILIO_API, timeout_seconds: float = 10.0) -> None:
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout_seconds

    def connect(
        self, shop: Shop, secrets: ShopSecrets, messaging_url: str, status_url: str
    ) -> list[NumberConnection]:
        """Raises Conflict when Twilio refuses the shop's credentials and Retryable when it
        cannot be reached; any other refusal fails that number only."""
        client = _account_client(shop, secrets, self._api_url, self._timeout)
        if client is None or shop.twilio is None:
            raise Conflict("the shop has no Twilio account and auth token")
        connections = [
            _attempt(number, Channel.SMS, partial(_point_sms, client, number, messaging_url))
            for number in shop.twilio.sms_numbers
        ]

        @lru_cache(maxsize=1)
        def senders() -> dict[str, str]:
            listed = client.messaging.v2.channels_senders.list(channel="whatsapp")
            return {str(sender.sender_id): str(sender.sid) for sender in listed}

        def point_sender(number: str) -> tuple[NumberResult, str]:
            sid = senders().get(f"whatsapp:{number}")
            if sid is None:
                return NumberResult.NOT_FOUND, (
                    "not a WhatsApp sender of this Twilio account (the WhatsApp Sandbox's "
                    "webhook is set in the console)"
                )
            webhook = _SenderWebhook(messaging_url, status_url)
            client.messaging.v2.channels_senders(sid).update(webhook)
            return NumberResult.CONNECTED, "webhook and status callback set"

        return connections + [
            _attempt(number, Channel.WHATSAPP, partial(point_sender, number))
            for number in shop.twilio.whatsapp_numbers
        ]

    def webhooks(self, shop: Shop, secrets: ShopSecrets) -> "list[NumberWebhook] | Refusal":
        """Where Twilio sends each of the shop's numbers' messages now, changing nothing; a
        Refusal when Twilio refuses the shop's credentials, fails or cannot be reached."""
        from requests.exceptions import RequestException
        from twilio.base.exceptions import TwilioException

        from chalicelib.domain.checks import CREDENTIALS_REFUSED, Refusal

        client = _account_client(shop, secrets, self._api_url, self._timeout)
        if client is None or shop.twilio is None:
            return Refusal("no_credentials", "the shop has no Twilio account and auth token")
        try:
            found = [_sms_webhook(client, number) for number in shop.twilio.sms_numbers]
            if shop.twilio.whatsapp_numbers:
                listed = client.messaging.v2.channels_senders.list(channel="whatsapp")
                senders = {str(sender.sender_id): sender.webhook or {} for sender in listed}
                found += [
                    _sender_webhook(number, senders.get(f"whatsapp:{number}"))
                    for number in shop.twilio.whatsapp_numbers
                ]
        except TwilioException as error:
            status, code, message = _refusal(error)
            if code == AUTHENTICATION_FAILED:
                return Refusal(CREDENTIALS_REFUSED, message)
            return Refusal(str(code or status or "failed"), message)
        except RequestException as error:
            return Refusal("unreachable", type(error).__name__)
        return found


def _sms_webhook(client: Any, number: str) -> "NumberWebhook":
    """An SMS number's messaging webhook, or, when a Messaging Service or TwiML app
    handles its messages, that one's."""
    from chalicelib.domain.checks import NumberWebhook

    candidates = client.incoming_phone_numbers.list(phone_number=number, limit=20)
    found = next((c for c in candidates if c.phone_number == number), None)
    if found is None:
        return NumberWebhook(number, Channel.SMS, found=False)
    own = NumberWebhook(
        number, Channel.SMS, found=True, url=found.sms_url or "", method=found.sms_method or "POST"
    )
    handler = str(found.sms_application_sid or "")
    if handler.startswith("MG"):
        service = client.messaging.v1.services(handler).fetch()
        if service.use_inbound_webhook_on_number:
            return own
        return NumberWebhook(
            number,
            Channel.SMS,
            found=True,
            url=service.inbound_request_url or "",
            method=service.inbound_method or "POST",
            via=f"Messaging Service {handler}",
        )
    if handler:
        application = client.applications(handler).fetch()
        return NumberWebhook(
            number,
            Channel.SMS,
            found=True,
            url=application.sms_url or "",
            method=application.sms_method or "POST",
            via=f"TwiML app {handler}",
        )
    return own


def _sender_webhook(number: str, webhook: dict[str, Any] | None) -> "NumberWebhook":
    from chalicelib.domain.checks import NumberWebhook

    if webhook is None:
        return NumberWebhook(number, Channel.WHATSAPP, found=False)
    return NumberWebhook(
        number,
        Channel.WHATSAPP,
        found=True,
        url=str(webhook.get("callback_url") or ""),
        method=str(webhook.get("callback_method") or "POST"),
    )


def _point_sms(client: Any, number: str, messaging_url: str) -> tuple[NumberResult, str]:
    # The filter also matches partial numbers: only the exact one counts.
    found = [
        candidate
        for candidate in client.incoming_phone_numbers.list(phone_number=number, limit=20)
        if candidate.phone_number == number
    ]
    if not found:
        return NumberResult.NOT_FOUND, "not a phone number of this Twilio account"
    updated = found[0].update(sms_url=messaging_url, sms_method="POST")
    if updated.sms_application_sid:
        # Twilio then ignores the number's own SmsUrl.
        return NumberResult.MANUAL, (
            f"webhook set, but messages go to {updated.sms_application_sid} (a TwiML app or "
            "Messaging Service): set its incoming message URL, or take the number out of it"
        )
    return NumberResult.CONNECTED, "messaging webhook set"


@dataclass(frozen=True)
class _SenderWebhook:
    """A sender update that names only the webhook fields this deployment owns: the
    generated request model would send the sender's profile and fallback as nulls."""

    callback_url: str
    status_callback_url: str

    def to_dict(self) -> dict[str, object]:
        return {
            "webhook": {
                "callback_url": self.callback_url,
                "callback_method": "POST",
                "status_callback_url": self.status_callback_url,
                "status_callback_method": "POST",
            }
        }


def _attempt(
    number: str, channel: Channel, point: Callable[[], tuple[NumberResult, str]]
) -> NumberConnection:
    from requests.exceptions import RequestException
    from twilio.base.exceptions import TwilioException

    try:
        result, detail = point()
    except TwilioException as error:
        status, code, message = _refusal(error)
        if code == AUTHENTICATION_FAILED:
            raise Conflict("Twilio refused the shop's credentials") from error
        error_code = f" (error {code})" if code else ""
        result, detail = NumberResult.FAILED, f"Twilio answered {status}{error_code}: {message}"
    except RequestException as error:
        raise Retryable(f"Twilio unreachable: {type(error).__name__}") from error
    return NumberConnection(number, channel, result, detail)


def _refusal(error: Exception) -> tuple[int | None, int | None, str]:
    """Status, Twilio error code and message of any of the client's three error shapes."""
    from twilio.base.exceptions import TwilioRestException, TwilioServiceException
    from twilio.http.response import Response

    if isinstance(error, TwilioRestException):
        # Its message, not its text: that one repeats the whole request.
        message = str(error.msg).partition(": ")[2] or str(error.msg)
        return error.status, error.code, message[:MAX_REASON]
    if isinstance(error, TwilioServiceException):
        return error.status, error.code, (error.detail or error.title)[:MAX_REASON]
    # A list page Twilio refused comes as the bare response.
    response = error.args[1] if len(error.args) > 1 else None
    if not isinstance(response, Response):
        return None, None, type(error).__name__
    try:
        body = json.loads(response.text)
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = body.get("code")
    message = str(body.get("message") or "the page was refused")
    return response.status_code, code if isinstance(code, int) else None, message[:MAX_REASON]


@contextmanager
def _provider_errors(channel: "TwilioChannel") -> Iterator[None]:
    """Twilio's answers as our errors: worth another try, or a refusal for good."""
    from requests.exceptions import RequestException
    from twilio.base.exceptions import TwilioException

    try:
        yield
    except TwilioException as error:
        # A refused list page is a bare TwilioException, not a TwilioRestException.
        status, code, _ = _refusal(error)
        if status is None:
            raise Retryable(f"Twilio's answer was unusable: {type(error).__name__}") from error
        if status == 429 or status >= 500:
            raise Retryable(f"Twilio answered {status}") from error
        error_code = str(code) if code else None
        raise DeliveryRefused(error_code, channel.describe_error(error_code)) from error
    except RequestException as error:
        raise Retryable(f"Twilio unreachable: {type(error).__name__}") from error


def _account_client(shop: Shop, secrets: ShopSecrets, api_url: str, timeout: float) -> Any:
    """The official client with the shop's account credentials; None without them."""
    from twilio.rest import Client

    token = secrets.twilio_auth_token
    if shop.twilio is None or token is None:
        return None
    return Client(
        shop.twilio.account_sid,
        token.get_secret_value(),
        http_client=_http_client(api_url, timeout),
    )


def _http_client(api_url: str, timeout: float) -> "TwilioHttpClient":
    from twilio.http.http_client import TwilioHttpClient

    # A stand-in plays every Twilio host at once, telling the APIs apart by their paths.
    hosts = (TWILIO_API, MESSAGING_API) if api_url != TWILIO_API else ()

    class RedirectedHttpClient(TwilioHttpClient):  # type: ignore[misc]
        """The official client, pointed at `TWILIO_API_URL` (a stand-in locally)."""

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            host = next((host for host in hosts if url.startswith(host)), None)
            if host is not None:
                url = api_url + url[len(host) :]
            return super().request(method, url, *args, **kwargs)

    return RedirectedHttpClient(timeout=timeout)
