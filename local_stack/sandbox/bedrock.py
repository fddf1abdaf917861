"""Bedrock Runtime's Converse imitated (`POST /model/{modelId}/converse`), for the `bedrock`
triage engine: boto3's bedrock-runtime client reaches it through
`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`.

As strict as the real service where Threadline relies on it: a SigV4 signature for the
`bedrock` service (else 403), a model it offers (else ValidationException, as for an invalid
model identifier), Converse's request shape (messages alternating from a user turn, one
member a content block, tool names and a tool choice naming a defined tool, inference
limits), errors in its shape (the `x-amzn-ErrorType` header and a `message`), and
ThrottlingException on demand (`throttle`).

A draft (the `record_draft` tool forced) is scripted: a short reply in the language the
request names (`SCRIPTED_DRAFTS`); so is a summary (`record_summary`, `SCRIPTED_SUMMARY`).
Otherwise its "model" reads the customer's message (the last text block of the user turn)
with the rules engine, in the language the facts block names, and answers through the tool
the request forces, as a model that follows the schema would; `answer_next` makes it answer
otherwise (a malformed triage, text instead of a tool call). A slow answer is a fault with a
delay on `Converse` (`faults`).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
import uuid
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from chalicelib.domain.triage.record import TriageContext
from chalicelib.domain.triage.rules import triage
from local_stack.sandbox.outbox import Outbox
from local_stack.sandbox.server import BadRequest, Reply, Request, StandIn

_CONVERSE_PATH = re.compile(r"^/model/(?P<model>[^/]+)/converse$")
_SIGNED = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=[^/\s]+/\d{8}/[a-z0-9-]+/bedrock/aws4_request,"
    r" SignedHeaders=[^,\s]+, Signature=[0-9a-f]{64}$"
)
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_REQUEST_FIELDS = frozenset(
    {
        "messages",
        "system",
        "inferenceConfig",
        "toolConfig",
        "guardrailConfig",
        "additionalModelRequestFields",
        "additionalModelResponseFieldPaths",
        "promptVariables",
        "requestMetadata",
        "performanceConfig",
    }
)
_CONTENT_KINDS = frozenset(
    {"text", "image", "document", "video", "toolUse", "toolResult", "guardContent", "cachePoint"}
)
_CHOICES = frozenset({"auto", "any", "tool"})
_LANGUAGE = re.compile(r"^Language of the message: (?P<code>[\w-]+)$", re.MULTILINE)
_UNANSWERED = re.compile(r"waiting unanswered before it: (?P<count>\d+)$", re.MULTILINE)

# The draft tool (triage_engines/bedrock_draft.py) and the draft the stand-in scripts for
# it, in the language the request names.
DRAFT_TOOL = "record_draft"
_DRAFT_LANGUAGE = re.compile(r"^Write the reply in this language: (?P<code>[\w-]+)$")
SCRIPTED_DRAFTS = {
    "en": "Thank you for your patience. I am checking your order now and will write back soon.",
    "pt": "Obrigado pela paciência. Estou verificando seu pedido e retorno em breve.",
    "es": "Gracias por su paciencia. Estoy revisando su pedido y le respondo enseguida.",
    "hu": "Köszönjük a türelmét. Most ellenőrzöm a rendelését, és hamarosan jelentkezem.",
    "id": "Terima kasih atas kesabarannya. Saya sedang memeriksa pesanan Anda.",
    "hi": "धैर्य रखने के लिए धन्यवाद। मैं अभी आपका ऑर्डर देख रहा हूँ।",
    "ar": "شكرًا لصبرك. أتحقق من طلبك الآن وسأرد عليك قريبًا.",
}

# The summary tool (triage_engines/bedrock_summary.py) and the summary scripted for it.
SUMMARY_TOOL = "record_summary"
SCRIPTED_SUMMARY = {
    "wants": "The customer wants to know where their order is.",
    "done": "Nothing yet.",
    "still_open": "An answer with the order's state.",
}

# The models the demo and the tests name: a foundation model and an inference profile.
DEMO_MODELS = (
    "anthropic.claude-3-haiku-20240307-v1:0",
    "amazon.nova-micro-v1:0",
    "us.amazon.nova-micro-v1:0",
)


class ConverseRefused(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def _validation(message: str) -> ConverseRefused:
    return ConverseRefused(HTTPStatus.BAD_REQUEST, "ValidationException", message)


class BedrockStandIn(StandIn):
    service = "bedrock"

    def __init__(self, outbox: Outbox, models: Iterable[str] = DEMO_MODELS) -> None:
        super().__init__(outbox)
        self._models = frozenset(models)
        self._lock = threading.Lock()
        self._throttled = 0
        self._next_answers: list[tuple[list[dict[str, Any]], str]] = []

    def throttle(self, calls: int = 1) -> None:
        """The next `calls` calls answer ThrottlingException (429)."""
        with self._lock:
            self._throttled += calls

    def answer_next(self, content: list[dict[str, Any]], stop_reason: str = "tool_use") -> None:
        """The next call is answered with this content and stop reason, whatever it asked."""
        with self._lock:
            self._next_answers.append((content, stop_reason))

    def _error_body(self, status: int, message: str) -> Any:
        return {"message": message}

    def _api_method(self, request: Request) -> str:
        return "Converse"

    def _handle_api(self, request: Request) -> Reply:
        path = _CONVERSE_PATH.match(request.path)
        if request.verb != "POST" or path is None:
            return self._unsupported(request)
        model = urllib.parse.unquote(path.group("model"))
        try:
            if not _SIGNED.match(request.headers.get("Authorization") or ""):
                raise ConverseRefused(
                    HTTPStatus.FORBIDDEN,
                    "MissingAuthenticationTokenException",
                    "Missing Authentication Token",
                )
            body = self._body(request)
            _check_request(body)
            if model not in self._models:
                raise _validation("The provided model identifier is invalid.")
            with self._lock:
                throttled = self._throttled > 0
                self._throttled -= 1 if throttled else 0
                answered = not throttled and bool(self._next_answers)
                scripted = self._next_answers.pop(0) if answered else None
            if throttled:
                raise ConverseRefused(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    "ThrottlingException",
                    "Too many requests, please wait before trying again.",
                )
        except ConverseRefused as refused:
            self._record("refused", {"model": model, "error": refused.error_type})
            return Reply(
                refused.status,
                {"message": refused.message},
                headers=(
                    ("x-amzn-ErrorType", f"{refused.error_type}:http://internal.amazon.com/"),
                ),
            )
        content, stop_reason = scripted or self._read(body)
        self._record("Converse", {"model": model, "stopReason": stop_reason})
        input_tokens = len(json.dumps(body, ensure_ascii=False)) // 4
        output_tokens = len(json.dumps(content, ensure_ascii=False)) // 4
        return Reply(
            HTTPStatus.OK,
            {
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": stop_reason,
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": 1},
            },
        )

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise BadRequest("the body is not JSON") from exc
        if not isinstance(body, dict):
            raise _validation("Malformed input request, please reformat your input and try again.")
        return body

    @staticmethod
    def _read(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """The stand-in model's answer: the rules engine's reading, through the forced tool
        (or text, when no tool is forced)."""
        texts = [b["text"] for b in body["messages"][-1]["content"] if "text" in b]
        forced = (body.get("toolConfig") or {}).get("toolChoice", {}).get("tool")
        if forced is not None and forced["name"] == DRAFT_TOOL:
            return _drafted(forced["name"], texts[0])
        if forced is not None and forced["name"] == SUMMARY_TOOL:
            use = {"toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}", "name": SUMMARY_TOOL}
            return [{"toolUse": {**use, "input": SCRIPTED_SUMMARY}}], "tool_use"
        facts, message = texts[0], texts[-1]
        language = _LANGUAGE.search(facts)
        unanswered = _UNANSWERED.search(facts)
        context = TriageContext(unanswered=int(unanswered["count"]) if unanswered else 0)
        read = triage(message, language["code"] if language else "en", context)
        reading = {
            "sentiment": read.sentiment.value,
            "strength": read.strength,
            "urgency": read.urgency.value,
            "signals": [s.value for s in read.signals],
            "intent": read.intent.value,
            "confidence": read.confidence,
        }
        if forced is None:
            return [{"text": json.dumps(reading)}], "end_turn"
        use = {"toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}", "name": forced["name"]}
        return [{"toolUse": {**use, "input": reading}}], "tool_use"


def _drafted(tool: str, language_block: str) -> tuple[list[dict[str, Any]], str]:
    """A scripted draft through the draft tool, in the language its first block names."""
    named = _DRAFT_LANGUAGE.search(language_block)
    reply = SCRIPTED_DRAFTS.get(named["code"] if named else "en", SCRIPTED_DRAFTS["en"])
    use = {"toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}", "name": tool}
    return [{"toolUse": {**use, "input": {"reply": reply}}}], "tool_use"


def _check_request(body: dict[str, Any]) -> None:
    """Converse's request shape, as the service validates it."""
    unknown = set(body) - _REQUEST_FIELDS
    if unknown:
        raise _validation(f"Unknown request fields: {', '.join(sorted(unknown))}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _validation("messages must have at least 1 item")
    for n, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role != ("user" if n % 2 == 0 else "assistant"):
            raise _validation(
                "A conversation must start with a user message and alternate user and "
                "assistant turns."
            )
        _check_content(message.get("content"))
    for block in body.get("system") or []:
        if not isinstance(block, dict) or not isinstance(block.get("text"), str):
            raise _validation("system content blocks must be text")
    inference = body.get("inferenceConfig") or {}
    tokens = inference.get("maxTokens", 1)
    if not isinstance(tokens, int) or tokens < 1:
        raise _validation("inferenceConfig.maxTokens must be at least 1")
    temperature = inference.get("temperature", 0.0)
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 1:
        raise _validation("inferenceConfig.temperature must be between 0 and 1")
    tools = body.get("toolConfig")
    if tools is not None:
        _check_tools(tools)


def _check_content(content: Any) -> None:
    if not isinstance(content, list) or not content:
        raise _validation("A message must have at least one content block.")
    for block in content:
        if not isinstance(block, dict) or len(block) != 1 or not set(block) <= _CONTENT_KINDS:
            raise _validation("A content block must have exactly one member.")
        if "text" in block and (not isinstance(block["text"], str) or not block["text"].strip()):
            raise _validation("The text field in a content block must not be blank.")


def _check_tools(config: Any) -> None:
    tools = config.get("tools") if isinstance(config, dict) else None
    if not isinstance(tools, list) or not tools:
        raise _validation("toolConfig.tools must have at least 1 item")
    names = set()
    for tool in tools:
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if not isinstance(spec, dict) or not _TOOL_NAME.match(str(spec.get("name", ""))):
            raise _validation("toolSpec.name must match [a-zA-Z0-9_-]{1,64}")
        schema = (spec.get("inputSchema") or {}).get("json")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise _validation(f"The input schema of tool {spec['name']} must be a JSON object.")
        names.add(spec["name"])
    choice = config.get("toolChoice")
    if choice is None:
        return
    if (
        not isinstance(choice, dict)
        or len(choice) != 1
        or not set(choice) <= {"auto", "any", "tool"}
    ):
        raise _validation("toolChoice must have exactly one of auto, any, tool")
    forced = choice.get("tool")
    if forced is not None and (not isinstance(forced, dict) or forced.get("name") not in names):
        raise _validation("toolChoice.tool.name must name a tool in toolConfig.tools")
