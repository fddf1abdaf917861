"""The customer's language among the shop's, from the real model; the shop's default when the
message is no evidence."""

import pytest

from chalicelib.domain.auto_replies import SHIPPED_LANGUAGES
from chalicelib.language import detect

pytestmark = pytest.mark.unit

SHIPPED = list(SHIPPED_LANGUAGES)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The item arrived damaged, what should I do?", "en"),
        ("I was charged twice for the same order", "en"),
        ("Pedido não chegou", "pt"),
        ("posso mudar o endereço de entrega?", "pt"),
        ("El producto llegó roto, ¿qué hago?", "es"),
        ("Me cobraron dos veces el mismo pedido", "es"),
        ("Hol van a csomagom?", "hu"),
        ("köszönöm, megjött ma!", "hu"),
        ("Halo, paket saya belum sampai", "id"),
        ("Saya belum terima email konfirmasi", "id"),
        ("وصل المنتج مكسورا، ماذا أفعل؟", "ar"),
        ("رقم التتبع لا يعمل", "ar"),
        ("सामान टूटा हुआ आया है, क्या करूँ?", "hi"),
        ("ट्रैकिंग नंबर काम नहीं कर रहा", "hi"),
    ],
)
def test_each_shipped_language_is_recognised_whatever_the_default(text: str, language: str) -> None:
    for default in ("pt", "en"):
        assert detect(text, SHIPPED, default) == language


@pytest.mark.parametrize("text", ["ok", "OK", "Ok!", "ok 👍", "k", "hmm", "👍", "4821", "?", ""])
def test_a_message_without_evidence_gets_the_shops_default(text: str) -> None:
    assert detect(text, SHIPPED, "hu") == "hu"
    assert detect(text, SHIPPED, "id") == "id"


def test_a_language_the_shop_does_not_answer_in_gets_the_default() -> None:
    assert detect("Où est ma commande ? Elle n'est toujours pas arrivée.", SHIPPED, "es") == "es"


def test_a_language_a_shop_adds_is_recognised() -> None:
    text = "Où est ma commande ? Elle n'est toujours pas arrivée."
    assert detect(text, [*SHIPPED, "fr"], "es") == "fr"


def test_one_candidate_language_is_no_choice() -> None:
    assert detect("Where is my order?", ["pt"], "pt") == "pt"


def test_a_long_email_is_weighed_whole() -> None:
    # The first 80 characters alone (the library's default cut) read as English.
    email = (
        "Order ANA-2026-4821, tracking BR123456789, Premium Express Shipping, Blue Dress M.\n\n"
        "Olá, boa tarde. Fiz o pedido há duas semanas e até agora não recebi nada. O código de "
        "rastreio não mostra nenhuma atualização desde a semana passada. Vocês podem verificar "
        "com a transportadora e me dizer quando vai chegar? Obrigada."
    )
    assert detect(email[:80], SHIPPED, "hu") == "en"
    assert detect(email, SHIPPED, "hu") == "pt"
