"""What the Slack Web API refuses in a message or a modal, answered as Slack answers it.

The sandbox's Slack stand-in and the tests' in-memory Slack both ask `message_refusal` /
`view_refusal` before they accept a post, an update, an ephemeral message or a modal, so a
message Slack would refuse fails there as it would in production, where a refused post of a
customer's message holds up that customer's FIFO group until it is dead-lettered.

Checked here, independently of the code that fits blocks (`chalicelib.presentation.block_kit`),
from Slack's Block Kit reference and its method documentation: at most 50 blocks in a
message and 100 in a modal; texts of 1 to 3,000 characters (section fields 2,000, headers
150, buttons and options 75, placeholders 150); at most 10 context elements, 10 section
fields, 25 action elements and 100 options; modal titles and buttons 24; a message's `text`
40,000 (`msg_too_long`); and the total text of a message's blocks, which Slack does not
document and refuses past about 12,000 characters (`msg_blocks_too_long`, as reported by
its SDKs' maintainers). Lengths are counted in UTF-16 code units.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["message_refusal", "view_refusal"]

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40_000
BLOCKS_TEXT = 12_000
BLOCK_TYPES = frozenset({"section", "context", "actions", "header", "input", "divider", "image"})


def _size(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decoded(value: Any) -> Any:
    # Form posts carry blocks and views as JSON strings, JSON posts as themselves.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _Problems:
    """Slack's way of saying what is wrong: a message and a JSON pointer per problem."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, message: str, pointer: str) -> None:
        self.found.append(f"{message} [json-pointer:{pointer}]")

    def text(self, value: Any, pointer: str, most: int, plain_only: bool = False) -> None:
        if not isinstance(value, dict):
            self.add("must provide an object", pointer)
            return
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if value.get("type") not in allowed:
            self.add(f"must be one of {', '.join(allowed)}", f"{pointer}/type")
        text = value.get("text")
        if not isinstance(text, str):
            self.add("must provide a string", f"{pointer}/text")
        elif not text:
            self.add("must be more than 0 characters", f"{pointer}/text")
        elif _size(text) > most:
            self.add(f"must be less than {most + 1} characters", f"{pointer}/text")

    def count(self, items: Any, pointer: str, most: int, least: int = 1) -> list[Any]:
        if not isinstance(items, list):
            self.add("must provide an array", pointer)
            return []
        if len(items) < least:
            self.add(f"must provide at least {least} items", pointer)
        if len(items) > most:
            self.add(f"no more than {most} items allowed", pointer)
        return items

    def string(self, value: Any, pointer: str, most: int) -> None:
        if value is not None and (not isinstance(value, str) or _size(value) > most):
            self.add(f"must be a string of at most {most} characters", pointer)

    def element(self, element: Any, pointer: str) -> None:
        if not isinstance(element, dict):
            self.add("must provide an object", pointer)
            return
        self.string(element.get("action_id"), f"{pointer}/action_id", 255)
        if "placeholder" in element:
            self.text(element["placeholder"], f"{pointer}/placeholder", 150, plain_only=True)
        match element.get("type"):
            case "button":
                self.text(element.get("text"), f"{pointer}/text", 75, plain_only=True)
                self.string(element.get("value"), f"{pointer}/value", 2000)
            case "static_select":
                options = self.count(element.get("options"), f"{pointer}/options", 100)
                for index, option in enumerate(options):
                    self.option(option, f"{pointer}/options/{index}")
                if "initial_option" in element:
                    self.option(element["initial_option"], f"{pointer}/initial_option")
            case "checkboxes":
                # Block Kit: at most 10 checkboxes; those checked at first are among them.
                options = self.count(element.get("options"), f"{pointer}/options", 10)
                for index, option in enumerate(options):
                    self.option(option, f"{pointer}/options/{index}")
                initial = element.get("initial_options", [])
                for index, option in enumerate(
                    self.count(initial, f"{pointer}/initial_options", 10, least=0)
                ):
                    if option not in options:
                        self.add(
                            "must match one of the options", f"{pointer}/initial_options/{index}"
                        )
            case "plain_text_input":
                self.string(element.get("initial_value"), f"{pointer}/initial_value", 3000)
                most = element.get("max_length", 3000)
                if not isinstance(most, int) or not 1 <= most <= 3000:
                    self.add("must be an integer from 1 to 3000", f"{pointer}/max_length")
            case "image":
                self.string(element.get("image_url"), f"{pointer}/image_url", 3000)
            case "number_input":
                self.number_input(element, pointer)
            case other:
                self.add(f"unsupported element type {other!r}", f"{pointer}/type")

    def number_input(self, element: dict[str, Any], pointer: str) -> None:
        """Block Kit's number input: `is_decimal_allowed` is required; its bounds and initial
        value are numbers written as strings, the initial value within the bounds."""
        decimal = element.get("is_decimal_allowed")
        if not isinstance(decimal, bool):
            self.add("must provide a boolean", f"{pointer}/is_decimal_allowed")
        bounds: dict[str, float] = {}
        for name in ("min_value", "max_value", "initial_value"):
            value = element.get(name)
            if value is None:
                continue
            try:
                number = float(value) if isinstance(value, str) else None
            except ValueError:
                number = None
            if number is None or (decimal is False and not number.is_integer()):
                self.add("must be a number written as a string", f"{pointer}/{name}")
            else:
                bounds[name] = number
        low, high = bounds.get("min_value"), bounds.get("max_value")
        if low is not None and high is not None and low > high:
            self.add("min_value must not exceed max_value", f"{pointer}/min_value")
        initial = bounds.get("initial_value")
        if initial is not None and (
            (low is not None and initial < low) or (high is not None and initial > high)
        ):
            self.add("must be within min_value and max_value", f"{pointer}/initial_value")

    def option(self, option: Any, pointer: str) -> None:
        if not isinstance(option, dict):
            self.add("must provide an object", pointer)
            return
        self.text(option.get("text"), f"{pointer}/text", 75)
        if "description" in option:
            self.text(option["description"], f"{pointer}/description", 75)
        value = option.get("value")
        if not isinstance(value, str) or not value or _size(value) > 150:
            self.add("must be a string of 1 to 150 characters", f"{pointer}/value")

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.add("must provide an object", pointer)
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.add(f"unsupported block type {kind!r}", f"{pointer}/type")
            return
        self.string(block.get("block_id"), f"{pointer}/block_id", 255)
        match kind:
            case "section":
                if "text" not in block and "fields" not in block:
                    self.add("must provide text or fields", pointer)
                if "text" in block:
                    self.text(block["text"], f"{pointer}/text", 3000)
                if "fields" in block:
                    fields = self.count(block["fields"], f"{pointer}/fields", 10)
                    for index, field in enumerate(fields):
                        self.text(field, f"{pointer}/fields/{index}", 2000)
                if "accessory" in block:
                    self.element(block["accessory"], f"{pointer}/accessory")
            case "header":
                self.text(block.get("text"), f"{pointer}/text", 150, plain_only=True)
            case "context":
                elements = self.count(block.get("elements"), f"{pointer}/elements", 10)
                for index, element in enumerate(elements):
                    at = f"{pointer}/elements/{index}"
                    if isinstance(element, dict) and element.get("type") == "image":
                        self.element(element, at)
                    else:
                        self.text(element, at, 3000)
            case "actions":
                elements = self.count(block.get("elements"), f"{pointer}/elements", 25)
                for index, element in enumerate(elements):
                    self.element(element, f"{pointer}/elements/{index}")
            case "input":
                self.text(block.get("label"), f"{pointer}/label", 2000, plain_only=True)
                if "hint" in block:
                    self.text(block["hint"], f"{pointer}/hint", 2000, plain_only=True)
                self.element(block.get("element"), f"{pointer}/element")

    def blocks(self, blocks: Any, pointer: str, most: int) -> list[Any]:
        listed = self.count(blocks, pointer, most, least=0)
        for index, block in enumerate(listed):
            self.block(block, f"{pointer}/{index}")
        return listed


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _refused(error: str, problems: list[str]) -> dict[str, Any]:
    return {
        "ok": False,
        "error": error,
        "errors": problems,
        "response_metadata": {"messages": [f"[ERROR] {problem}" for problem in problems]},
    }


def message_refusal(params: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's answer to a message (chat.postMessage, chat.update, chat.postEphemeral, a
    slash command's response) it would refuse; None when it would take it."""
    problems = _Problems()
    blocks = _decoded(params.get("blocks"))
    if blocks is not None:
        problems.blocks(blocks, "/blocks", MESSAGE_BLOCKS)
    if problems.found:
        return _refused("invalid_blocks", problems.found)
    text = params.get("text")
    if isinstance(text, str) and _size(text) > MESSAGE_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    if blocks is not None and sum(_size(t) for t in _texts(blocks)) > BLOCKS_TEXT:
        return {"ok": False, "error": "msg_blocks_too_long"}
    return None


def view_refusal(view: Any) -> dict[str, Any] | None:
    """Slack's answer to a modal (views.open) it would refuse; None when it would open."""
    problems = _Problems()
    view = _decoded(view)
    if not isinstance(view, dict):
        problems.add("must provide an object", "/view")
        return _refused("invalid_arguments", problems.found)
    problems.text(view.get("title"), "/view/title", 24, plain_only=True)
    for name in ("submit", "close"):
        if name in view:
            problems.text(view[name], f"/view/{name}", 24, plain_only=True)
    problems.string(view.get("private_metadata"), "/view/private_metadata", 3000)
    problems.string(view.get("callback_id"), "/view/callback_id", 255)
    problems.blocks(view.get("blocks"), "/view/blocks", VIEW_BLOCKS)
    return _refused("invalid_arguments", problems.found) if problems.found else None
