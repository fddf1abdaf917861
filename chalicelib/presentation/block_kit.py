"""Slack's Block Kit limits, and the one place that makes blocks fit them.

Slack refuses a whole message or modal past any one of its limits (`invalid_blocks`,
`msg_too_long`, `msg_blocks_too_long`). A refused post of a customer's message is retried
until it is dead-lettered, and the customer's later messages wait behind it in their FIFO
group; so a mail with 60 attachments, or a name of 5,000 characters, must never make a post
Slack refuses. Every builder of Block Kit hands its blocks to `fit_blocks` (messages) or
`fit_view` (modals): each text is cut to its element's limit, and the blocks that do not fit
in number or in total text are folded into one last line ("…and 57 more files"). Fitting
never fails and never drops the blocks a builder marks as kept (its buttons, its markers).

The limits are the Block Kit reference's (the same slack_sdk's models check); the total of
block text is the one Slack does not document: its SDK maintainers put it near 12,000
characters, which messages here stay well below. Lengths are counted in UTF-16 code units,
which is never less than Slack's count, whether it counts code points or code units.
"""

from collections.abc import Iterator
from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40_000
# Below the undocumented total Slack allows (about 12,000), with room for its own counting.
BLOCKS_TEXT = 10_000
TEXT_OBJECT = 3_000
SECTION_FIELDS = 10
FIELD_TEXT = 2_000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
ACTION_ELEMENTS = 25
BUTTON_TEXT = 75
SELECT_OPTIONS = 100
OPTION_TEXT = 75
OPTION_DESCRIPTION = 75
PLACEHOLDER = 150
INPUT_LABEL = 2_000
INPUT_HINT = 2_000
INPUT_VALUE = 3_000
VIEW_TITLE = 24

ELLIPSIS = "…"
# What a text that must not be empty shows when it is: Slack refuses empty texts.
EMPTY = "–"


def size(text: str) -> int:
    """A text's length as Slack's limits are checked here: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, limit: int, markup: bool = True) -> str:
    """`text` within `limit`, ending in "…" when shortened. With `markup` (mrkdwn), never
    cut inside an escape (`&amp;`, `&lt;`, `&gt;`) or a link or mention (`<…>`), which
    would show half of it or leave it open."""
    if size(text) <= limit:
        return text
    room = limit - size(ELLIPSIS)
    # The longest prefix that fits (sizes only grow with length): a binary search.
    low, high = 0, min(len(text), room)
    while low < high:
        middle = (low + high + 1) // 2
        if size(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    kept = text[:low]
    return (_without_open_markup(kept) if markup else kept) + ELLIPSIS


def _without_open_markup(text: str) -> str:
    """`text` without a trailing escape or link that was cut before its end."""
    ampersand = text.rfind("&")
    if ampersand != -1 and ";" not in text[ampersand:]:
        text = text[:ampersand]
    opening = text.rfind("<")
    if opening != -1 and ">" not in text[opening:]:
        text = text[:opening]
    return text


def _text_object(value: Any, limit: int) -> Any:
    """A text object (`{"type": "mrkdwn" | "plain_text", "text": …}`) within `limit`."""
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return value
    text = value["text"]
    fitted = cut(text, limit, markup=value.get("type") == "mrkdwn") if text else EMPTY
    return {**value, "text": fitted}


def _option(option: Any) -> Any:
    if not isinstance(option, dict):
        return option
    fitted = {**option, "text": _text_object(option.get("text"), OPTION_TEXT)}
    if "description" in option:
        fitted["description"] = _text_object(option["description"], OPTION_DESCRIPTION)
    return fitted


def _element(element: Any) -> Any:
    """An interactive element (button, select, text input) within its limits."""
    if not isinstance(element, dict):
        return element
    fitted = dict(element)
    kind = element.get("type")
    if kind == "button":
        fitted["text"] = _text_object(element.get("text"), BUTTON_TEXT)
    if "placeholder" in element:
        fitted["placeholder"] = _text_object(element["placeholder"], PLACEHOLDER)
    if isinstance(element.get("options"), list):
        fitted["options"] = [_option(o) for o in element["options"][:SELECT_OPTIONS]]
    if "initial_option" in element:
        fitted["initial_option"] = _option(element["initial_option"])
    if kind == "plain_text_input" and isinstance(element.get("initial_value"), str):
        fitted["initial_value"] = cut(element["initial_value"], INPUT_VALUE)
    return fitted


def _context_elements(elements: list[Any]) -> list[Any]:
    """At most ten elements, each text within its limit; texts past the tenth are joined
    onto it rather than lost."""
    fitted = [_text_object(e, TEXT_OBJECT) if _is_text(e) else e for e in elements]
    if len(fitted) <= CONTEXT_ELEMENTS:
        return fitted
    last, extra = fitted[CONTEXT_ELEMENTS - 1], fitted[CONTEXT_ELEMENTS:]
    if _is_text(last) and all(_is_text(e) for e in extra):
        joined = " · ".join(e["text"] for e in [last, *extra])
        markup = all(e["type"] == "mrkdwn" for e in [last, *extra])
        last = {**last, "text": cut(joined, TEXT_OBJECT, markup)}
    return [*fitted[: CONTEXT_ELEMENTS - 1], last]


def _is_text(element: Any) -> bool:
    return isinstance(element, dict) and element.get("type") in ("mrkdwn", "plain_text")


def fit_block(block: dict[str, Any]) -> dict[str, Any]:
    """One block with each of its parts within its limit."""
    fitted = dict(block)
    match block.get("type"):
        case "section":
            if "text" in block:
                fitted["text"] = _text_object(block["text"], TEXT_OBJECT)
            if isinstance(block.get("fields"), list):
                fields = block["fields"][:SECTION_FIELDS]
                fitted["fields"] = [_text_object(f, FIELD_TEXT) for f in fields]
            if "accessory" in block:
                fitted["accessory"] = _element(block["accessory"])
        case "header":
            fitted["text"] = _text_object(block.get("text"), HEADER_TEXT)
        case "context":
            elements = block.get("elements")
            fitted["elements"] = _context_elements(elements if isinstance(elements, list) else [])
        case "actions":
            elements = block.get("elements")
            listed = elements if isinstance(elements, list) else []
            fitted["elements"] = [_element(e) for e in listed[:ACTION_ELEMENTS]]
        case "input":
            fitted["label"] = _text_object(block.get("label"), INPUT_LABEL)
            if "hint" in block:
                fitted["hint"] = _text_object(block["hint"], INPUT_HINT)
            fitted["element"] = _element(block.get("element"))
    return fitted


def _texts(value: Any) -> Iterator[str]:
    """Every text a block shows (the values of its "text" keys, at any depth)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def text_size(blocks: list[dict[str, Any]] | dict[str, Any]) -> int:
    """The total size of the texts blocks show, as Slack's total limit counts them."""
    return sum(size(text) for text in _texts(blocks))


def fold_line(count: int, noun: tuple[str, str]) -> dict[str, Any]:
    """The last line standing for `count` blocks left out: "…and 57 more files"."""
    singular, plural = noun
    what = singular if count == 1 else plural
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"{ELLIPSIS}and {count:,} more {what}"}],
    }


def fit_blocks(
    blocks: list[dict[str, Any]],
    *,
    kept: int = 0,
    noun: tuple[str, str] = ("part", "parts"),
    most: int = MESSAGE_BLOCKS,
    budget: int = BLOCKS_TEXT,
) -> list[dict[str, Any]]:
    """`blocks` as Slack takes them: each within its limits, at most `most` blocks and
    `budget` of text in all. The last `kept` blocks always stay; of the others, those that
    come first stay while they fit, and the rest become one line counting them in `noun`
    (singular, plural), placed before the kept ones."""
    fitted = [fit_block(block) for block in blocks]
    split = max(len(fitted) - kept, 0)
    body, tail = fitted[:split], fitted[split:]
    blocks_left = most - len(tail)
    text_left = budget - text_size(tail)
    reserve = text_size(fold_line(10**9, noun))
    shown: list[dict[str, Any]] = []
    for index, block in enumerate(body):
        last = index == len(body) - 1
        needs_fold = 0 if last else 1
        cost = text_size(block)
        if len(shown) + 1 + needs_fold > blocks_left:
            break
        if cost + needs_fold * reserve > text_left:
            break
        shown.append(block)
        text_left -= cost
    folded = len(body) - len(shown)
    if folded:
        shown.append(fold_line(folded, noun))
    return [*shown, *tail][: max(most, 0)]


def fit_text(text: str) -> str:
    """A message's `text` (its notification and fallback) within Slack's limit."""
    return cut(text, MESSAGE_TEXT) if text else EMPTY


def fit_view(view: dict[str, Any], *, kept: int = 0) -> dict[str, Any]:
    """A modal as Slack opens it: its title, its buttons and its blocks (at most 100)
    within their limits. Its `private_metadata` is Threadline's own and small (cut, it
    would not parse when it comes back)."""
    fitted = dict(view)
    for name in ("title", "submit", "close"):
        if name in view:
            fitted[name] = _text_object(view[name], VIEW_TITLE)
    blocks = view.get("blocks")
    fitted["blocks"] = fit_blocks(
        blocks if isinstance(blocks, list) else [],
        kept=kept,
        most=VIEW_BLOCKS,
        budget=VIEW_BLOCKS * TEXT_OBJECT,
    )
    return fitted
