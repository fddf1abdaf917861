"""A customer's "STOP" and "START" for order updates, in the shipped languages.

A message is a command only when it is nothing but a stop (or start) word, once case,
spaces and punctuation are set aside: "Stop!" is one, "don't stop the delivery" is not.
Opting out covers what the shop sends first (order updates), never an agent's answer to a
customer who writes.

SMS numbers with Twilio's Advanced Opt-Out answer STOP and START themselves (and Twilio
refuses to send to an opted-out number): on SMS the choice is recorded as everywhere, and
for Twilio's own keywords Threadline sends no confirmation of its own, so the customer is not
told twice; any other word (Twilio lets it through unanswered) is confirmed as elsewhere.
"""

import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from chalicelib.domain.vocabulary import Channel


class OptCommand(StrEnum):
    STOP = "stop"
    START = "start"


# Each word, and the language it tells (None when several languages use it: the
# conversation's language is taken then).
_STOP_WORDS: dict[str, str | None] = {
    # English. Twilio's SMS list has CANCEL, END and QUIT too; in a chat they mean an order
    # or a conversation more often than the updates, so they are left out.
    "stop": None,
    "stopall": "en",
    "unsubscribe": "en",
    "optout": "en",
    "opt out": "en",
    "parar": "pt",
    "pare": "pt",
    "sair": "pt",
    "detener": "es",
    "baja": "es",
    "darme de baja": "es",
    "leiratkozás": "hu",
    "leiratkozas": "hu",
    "leiratkozom": "hu",
    "berhenti": "id",
    "रोकें": "hi",
    "रोको": "hi",
    "बंद": "hi",
    "बंद करें": "hi",
    "إيقاف": "ar",
    "ايقاف": "ar",
    "توقف": "ar",
    "أوقف": "ar",
}
_START_WORDS: dict[str, str | None] = {
    "start": None,
    "unstop": "en",
    "iniciar": None,
    "começar": "pt",
    "comecar": "pt",
    "reanudar": "es",
    "feliratkozás": "hu",
    "feliratkozas": "hu",
    "mulai": "id",
    "शुरू": "hi",
    "शुरू करें": "hi",
    "بدء": "ar",
    "ابدأ": "ar",
}


@dataclass(frozen=True)
class OptRequest:
    command: OptCommand
    # The language the word itself tells, if only one language uses it.
    language: str | None
    # Whether the message is exactly a keyword Twilio's SMS opt-out answers itself.
    twilio_keyword: bool = field(default=False, compare=False)


def _normalised(text: str) -> str:
    """Lower case, punctuation and symbols gone, spaces collapsed; letters and their marks
    kept (Devanagari's vowel signs are marks)."""
    kept = "".join(
        " " if unicodedata.category(c)[0] in "PSZC" else c
        for c in unicodedata.normalize("NFC", text.casefold())
    )
    return " ".join(kept.split())


# Twilio's default SMS keywords among ours: it acts on a message that is exactly one of
# them (case and surrounding spaces aside, no punctuation), and on no other word.
_TWILIO_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "start", "unstop"})


def opt_request(text: str) -> OptRequest | None:
    """STOP or START when the message is just one of their words; None otherwise."""
    if len(text) > 40:
        return None
    words = _normalised(text)
    twilio_keyword = text.strip().casefold() in _TWILIO_KEYWORDS
    if words in _STOP_WORDS:
        return OptRequest(OptCommand.STOP, _STOP_WORDS[words], twilio_keyword)
    if words in _START_WORDS:
        return OptRequest(OptCommand.START, _START_WORDS[words], twilio_keyword)
    return None


_CONFIRMATIONS: dict[str, dict[OptCommand, str]] = {
    "en": {
        OptCommand.STOP: "You will no longer get order updates from us. Reply START to get "
        "them again.",
        OptCommand.START: "You will get order updates from us again. Reply STOP to stop them.",
    },
    "pt": {
        OptCommand.STOP: "Você não receberá mais atualizações de pedidos. Responda INICIAR "
        "para voltar a recebê-las.",
        OptCommand.START: "Você voltará a receber atualizações de pedidos. Responda PARAR "
        "para interrompê-las.",
    },
    "es": {
        OptCommand.STOP: "Ya no recibirás actualizaciones de pedidos. Responde INICIAR para "
        "volver a recibirlas.",
        OptCommand.START: "Volverás a recibir actualizaciones de pedidos. Responde DETENER "
        "para dejar de recibirlas.",
    },
    "hu": {
        OptCommand.STOP: "Nem küldünk több rendelési értesítést. Írja, hogy FELIRATKOZÁS, ha "
        "újra kéri őket.",
        OptCommand.START: "Újra küldünk rendelési értesítéseket. Írja, hogy LEIRATKOZÁS, ha "
        "nem kéri őket.",
    },
    "id": {
        OptCommand.STOP: "Anda tidak akan lagi menerima kabar pesanan. Balas MULAI untuk "
        "menerimanya lagi.",
        OptCommand.START: "Anda akan kembali menerima kabar pesanan. Balas BERHENTI untuk "
        "menghentikannya.",
    },
    "hi": {
        OptCommand.STOP: "अब आपको ऑर्डर अपडेट नहीं भेजे जाएँगे। फिर से पाने के लिए शुरू लिखें।",
        OptCommand.START: "आपको फिर से ऑर्डर अपडेट भेजे जाएँगे। रोकने के लिए रोकें लिखें।",
    },
    "ar": {
        OptCommand.STOP: "لن تصلك تحديثات الطلبات بعد الآن. أرسل ابدأ لتلقيها من جديد.",
        OptCommand.START: "ستصلك تحديثات الطلبات من جديد. أرسل إيقاف لإيقافها.",
    },
}


def confirmation(command: OptCommand, language: str) -> str:
    """What the customer is told, in their language: what changed and how to undo it."""
    return _CONFIRMATIONS.get(language, _CONFIRMATIONS["en"])[command]


def confirmed_by_provider(channel: Channel, request: OptRequest) -> bool:
    """Whether the provider confirms the command itself: Twilio's Advanced Opt-Out on SMS,
    for its own keywords only (a "PARAR" or a "Stop!" it lets through unanswered)."""
    return channel is Channel.SMS and request.twilio_keyword
