"""A cached document's model is validated once per document read, never kept past it."""

import pytest
from pydantic import ValidationError

from chalicelib.documents import ValidatedDocuments
from chalicelib.domain.shop import Shop, ShopSecrets


def config(name: str = "Loja da Ana") -> dict[str, object]:
    return {"shop_id": "ana", "name": name}


def test_the_same_document_gives_the_model_validated_the_first_time() -> None:
    # Given a document as a cache hands it back, again and again
    shops = ValidatedDocuments(Shop)
    document = config()
    # When it is asked for twice
    first, second = shops("ana", document), shops("ana", document)
    # Then it was validated once: the second answer is the first model itself
    assert first is second
    assert first == Shop(shop_id="ana", name="Loja da Ana")


def test_a_new_read_is_validated_afresh_even_when_equal() -> None:
    shops = ValidatedDocuments(Shop)
    before = shops("ana", config())
    # A new object (the cache read again): its own validation, and its changes seen
    assert shops("ana", config()) is not before
    assert shops("ana", config("Ana's")).name == "Ana's"


def test_each_name_keeps_its_own_model() -> None:
    secrets = ValidatedDocuments(ShopSecrets)
    ana = secrets("ana", {"twilio_auth_token": "ana-token"})
    bia = secrets("bia", {"twilio_auth_token": "bia-token"})
    assert ana.twilio_auth_token is not None
    assert bia.twilio_auth_token is not None
    assert ana.twilio_auth_token.get_secret_value() == "ana-token"
    assert bia.twilio_auth_token.get_secret_value() == "bia-token"


def test_an_invalid_document_is_refused_every_time_and_not_kept() -> None:
    shops = ValidatedDocuments(Shop)
    valid = shops("ana", config())
    invalid = {"shop_id": "ana", "name": ""}
    for _ in range(2):
        with pytest.raises(ValidationError):
            shops("ana", invalid)
    # The model of the last valid document is not handed out for another one
    assert shops("ana", config()) is not valid
