"""A customer's STOP and START as the inbound worker hears them: only the customer's own
words count (not what the shop echoed from another inbox), a START lifts a STOP sent from
any address of the same person, and on SMS Threadline leaves the confirmation to Twilio
only for the words Twilio itself answers."""

from datetime import UTC, datetime

import pytest

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.customers import linked
from chalicelib.domain.messages import InboundKind, InboundMessage
from chalicelib.domain.vocabulary import Channel
from chalicelib.services.opt_outs import OptOutHeard, OptOutKeeper
from tests.fakes import FakeOptOuts, FakeProfiles, FakeRecords
from tests.unit.use_cases import CUSTOMER, SHOP, SHOP_NUMBER, acme

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EMAIL = "ana@example.com"


def message(
    text: str,
    address: str = CUSTOMER,
    channel: Channel = Channel.SMS,
    kind: InboundKind = InboundKind.MESSAGE,
) -> InboundMessage:
    return InboundMessage(
        shop_id=SHOP,
        channel=channel,
        provider="email" if channel is Channel.EMAIL else "twilio",
        provider_message_id=f"m-{text}-{address}",
        customer_address=address,
        shop_address=SHOP_NUMBER,
        text=text,
        received_at=NOW,
        kind=kind,
    )


def conversation_of(heard: InboundMessage) -> Conversation:
    return Conversation(
        shop_id=SHOP,
        conversation_id="c-1",
        channel=heard.channel,
        customer_address=heard.customer_address,
        shop_address=heard.shop_address,
        created_at=NOW,
        last_customer_message_at=NOW,
        message_count=1,
        first_message_preview="Olá, comprei uma camiseta",
    )


class Keeping:
    def __init__(self) -> None:
        self.records = FakeRecords()
        self.profiles = FakeProfiles(self.records)
        self.opt_outs = FakeOptOuts()
        self.keeper = OptOutKeeper(self.opt_outs, self.profiles)

    def hear(self, heard: InboundMessage, sends_updates: bool = True) -> OptOutHeard | None:
        shop = acme(order_updates={"send_updates": sends_updates})
        return self.keeper.heard(heard, conversation_of(heard), shop)


@pytest.fixture
def keeping() -> Keeping:
    return Keeping()


def test_a_stop_the_shop_echoed_from_another_inbox_is_not_the_customers(
    keeping: Keeping,
) -> None:
    echoed = message("Stop", "messenger:123", Channel.MESSENGER, InboundKind.ECHO)

    assert keeping.hear(echoed) is None
    assert keeping.opt_outs.opted_out == {}


def test_a_start_from_any_address_of_the_person_lifts_their_stop(keeping: Keeping) -> None:
    profile = linked("cust-1", SHOP, [EMAIL, CUSTOMER], [], NOW)
    keeping.profiles.save_profile(profile, [])
    keeping.hear(message("STOP", EMAIL, Channel.EMAIL))
    assert keeping.opt_outs.opted_out_at(SHOP, (EMAIL, CUSTOMER)) is not None

    keeping.hear(message("start", f"whatsapp:{CUSTOMER}", Channel.WHATSAPP))

    assert keeping.opt_outs.opted_out_at(SHOP, (EMAIL, CUSTOMER)) is None


@pytest.mark.parametrize("text", ["STOP", "unsubscribe", "Start"])
def test_on_sms_twilio_confirms_its_own_words(keeping: Keeping, text: str) -> None:
    heard = keeping.hear(message(text))

    assert heard is not None
    assert heard.confirmation is None


@pytest.mark.parametrize("text", ["PARAR", "berhenti", "Iniciar"])
def test_on_sms_a_word_twilio_does_not_answer_is_confirmed_by_threadline(
    keeping: Keeping, text: str
) -> None:
    heard = keeping.hear(message(text))

    assert heard is not None
    assert heard.confirmation is not None
    assert "Twilio" not in heard.note.text


def test_a_shop_that_sends_no_updates_records_a_stop_without_answering_it(
    keeping: Keeping,
) -> None:
    heard = keeping.hear(message("Stop", f"whatsapp:{CUSTOMER}", Channel.WHATSAPP), False)

    assert heard is not None
    # Nothing about updates the customer never gets; kept should the shop start them.
    assert heard.confirmation is None
    assert "sent a confirmation" not in heard.note.text
    assert keeping.opt_outs.opted_out_at(SHOP, (CUSTOMER,)) is not None
