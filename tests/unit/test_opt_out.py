"""A customer's STOP and START for order updates: only a message that is nothing but the
word counts, in the shipped languages, and the confirmation says how to undo it."""

import pytest

from chalicelib.domain.opt_out import (
    OptCommand,
    OptRequest,
    confirmation,
    confirmed_by_provider,
    opt_request,
)
from chalicelib.domain.vocabulary import Channel


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("STOP", None),
        ("  stop! ", None),
        ("Stop.", None),
        ("parar", "pt"),
        ("PARAR!!", "pt"),
        ("berhenti", "id"),
        ("detener", "es"),
        ("Baja", "es"),
        ("leiratkozás", "hu"),
        ("रोकें", "hi"),
        ("बंद", "hi"),
        ("إيقاف", "ar"),
        ("توقف", "ar"),
        ("unsubscribe", "en"),
    ],
)
def test_a_stop_word_alone_opts_out(text: str, language: str | None) -> None:
    assert opt_request(text) == OptRequest(OptCommand.STOP, language)


@pytest.mark.parametrize("text", ["START", "start ", "iniciar", "mulai", "शुरू", "ابدأ"])
def test_a_start_word_alone_opts_in_again(text: str) -> None:
    request = opt_request(text)
    assert request is not None
    assert request.command is OptCommand.START


@pytest.mark.parametrize(
    "text",
    [
        "don't stop the delivery",
        "stop sending me the wrong size",
        "Quero parar de receber? não, onde está meu pedido",
        "cancel",
        "bus stop",
        "stopp",
        "",
        "stop " * 20,
    ],
)
def test_a_message_that_only_contains_a_stop_word_is_no_command(text: str) -> None:
    assert opt_request(text) is None


def commands_named(text: str) -> set[OptCommand]:
    return {request.command for word in text.split() if (request := opt_request(word))}


@pytest.mark.parametrize("language", ["en", "pt", "es", "hu", "id", "hi", "ar"])
def test_the_confirmation_says_how_to_undo_it_in_the_customers_language(language: str) -> None:
    stop = confirmation(OptCommand.STOP, language)
    start = confirmation(OptCommand.START, language)

    # The undo word it names is one the customer can send back.
    assert commands_named(stop) == {OptCommand.START}
    assert commands_named(start) == {OptCommand.STOP}


def test_only_twilios_own_keywords_on_sms_are_confirmed_by_the_provider() -> None:
    stop, parar, shouted = opt_request("STOP "), opt_request("parar"), opt_request("Stop!")
    assert stop is not None
    assert parar is not None
    assert shouted is not None
    assert confirmed_by_provider(Channel.SMS, stop)
    assert not confirmed_by_provider(Channel.SMS, parar)
    # Twilio takes a keyword only as the whole message, punctuation and all.
    assert not confirmed_by_provider(Channel.SMS, shouted)
    assert not confirmed_by_provider(Channel.WHATSAPP, stop)
    assert not confirmed_by_provider(Channel.EMAIL, stop)
