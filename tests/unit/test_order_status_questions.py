""" "Where is my order?" recognised by the triage rules engine on a labelled multilingual set
(the 7 shipped languages, with decoys that mention an order but ask something else), and
answered only from the customer's own, freshly found order."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.auto_replies import SHIPPED_LANGUAGES
from chalicelib.domain.order_status_answers import asks_where_order_is, status_answer
from chalicelib.domain.orders import Money, Order, not_a_customer, summary, unavailable
from chalicelib.language import detect

# (message, asks where the order is)
LABELLED: dict[str, list[tuple[str, bool]]] = {
    "en": [
        ("Where is my order #1042?", True),
        ("Hi, any update on my order? It's been a week", True),
        ("Has my package shipped yet?", True),
        ("Can you tell me when order 1042 will arrive?", True),
        ("I'd like to track my parcel please", True),
        ("what's the status of my order", True),
        ("I want to cancel order #1042", False),
        ("Can I change the delivery address on my order?", False),
        ("Order 1042 arrived broken, I want a refund", False),
        ("How do I return the shoes from my last order?", False),
        ("Do you have this jacket in size M?", False),
        ("Can you send me the invoice for order #1042?", False),
    ],
    "pt": [
        ("onde está meu pedido #1042?", True),
        ("Cadê meu pedido? Já faz 10 dias", True),
        ("Oi, alguma novidade sobre o meu pedido?", True),
        ("Quando meu pedido vai chegar?", True),
        ("Pode me passar o código de rastreio do pedido 1042?", True),
        ("meu pedido já foi enviado?", True),
        ("Quero cancelar o pedido #1042", False),
        ("Quero devolver o tênis do meu último pedido", False),
        ("O pedido 1042 chegou quebrado, quero reembolso", False),
        ("Posso trocar o endereço de entrega do pedido?", False),
        ("Vocês têm essa camiseta em azul?", False),
        ("Preciso da nota fiscal do pedido 1042", False),
    ],
    "es": [
        ("¿Dónde está mi pedido #1042?", True),
        ("Hola, ¿alguna novedad de mi pedido?", True),
        ("¿Cuándo llega mi pedido?", True),
        ("¿Me pasan el número de seguimiento del pedido 1042?", True),
        ("¿Ya enviaron mi paquete?", True),
        ("Quiero saber el estado de mi pedido", True),
        ("Quiero cancelar el pedido #1042", False),
        ("Quiero devolver los zapatos de mi pedido", False),
        ("El pedido 1042 llegó roto, quiero un reembolso", False),
        ("¿Puedo cambiar la dirección de envío de mi pedido?", False),
        ("¿Tienen esta chaqueta en talla M?", False),
        ("Necesito la factura del pedido 1042", False),
    ],
    "hu": [
        ("Hol van a rendelésem? #1042", True),
        ("Van valami hír a rendelésemről?", True),
        ("Mikor érkezik meg a csomagom?", True),
        ("Feladták már a rendelésemet?", True),
        ("Kérem a csomag nyomkövetési számát", True),
        ("Mi a 1042-es rendelés állapota?", True),
        ("Szeretném lemondani a 1042-es rendelést", False),
        ("Vissza szeretném küldeni a cipőt a rendelésemből", False),
        ("A 1042-es rendelés törötten érkezett, kérem a pénzem vissza", False),
        ("Módosíthatom a szállítási címet a rendelésemen?", False),
        ("Van ez a kabát M méretben?", False),
        ("Kérném a számlát a 1042-es rendelésről", False),
    ],
    "id": [
        ("Pesanan saya #1042 sampai mana ya?", True),
        ("Kak, ada update untuk pesanan saya?", True),
        ("Kapan pesanan saya dikirim?", True),
        ("Paket saya mana ya, belum sampai", True),
        ("Minta nomor resi pesanan 1042 dong", True),
        ("Bagaimana status pesanan saya?", True),
        ("Saya mau batalkan pesanan #1042", False),
        ("Saya mau retur sepatu dari pesanan saya", False),
        ("Pesanan 1042 datang rusak, saya minta refund", False),
        ("Bisa ganti alamat pengiriman pesanan saya?", False),
        ("Jaket ini ada ukuran M?", False),
        ("Tolong kirim invoice pesanan 1042", False),
    ],
    "hi": [
        ("मेरा ऑर्डर कहाँ है? #1042", True),
        ("मेरा ऑर्डर कब आएगा?", True),
        ("मेरे ऑर्डर का स्टेटस क्या है?", True),
        ("क्या मेरा ऑर्डर शिप हो गया?", True),
        ("bhai mera order kab aayega", True),
        ("मेरा पार्सल कहाँ है", True),
        ("मुझे ऑर्डर #1042 कैंसिल करना है", False),
        ("मुझे अपने ऑर्डर के जूते वापस करने हैं", False),
        ("ऑर्डर 1042 टूटा हुआ आया, मुझे रिफंड चाहिए", False),
        ("क्या मैं अपने ऑर्डर का पता बदल सकता हूँ?", False),
        ("क्या यह जैकेट M साइज़ में है?", False),
        ("मुझे ऑर्डर 1042 का बिल चाहिए", False),
    ],
    "ar": [
        ("أين طلبي رقم 1042؟", True),
        ("هل من تحديث بخصوص طلبي؟", True),
        ("متى يصل طلبي؟", True),
        ("أين الطرد الخاص بي؟", True),
        ("هل تم شحن طلبي؟", True),
        ("أريد رقم التتبع لطلبي 1042", True),
        ("أريد إلغاء الطلب رقم 1042", False),
        ("أريد إرجاع الحذاء من طلبي", False),
        ("وصل الطلب 1042 مكسورًا وأريد استرداد المبلغ", False),
        ("هل يمكنني تغيير عنوان التوصيل لطلبي؟", False),
        ("هل هذه السترة متوفرة بمقاس M؟", False),
        ("أحتاج فاتورة الطلب 1042", False),
    ],
}


def test_the_question_is_recognised_with_precision_and_its_recall_reported():
    hits = false_alarms = misses = 0
    for language, messages in LABELLED.items():
        assert len(messages) >= 10, language
        assert any(not asks for _, asks in messages), language
        for text, asks in messages:
            found = asks_where_order_is(text, detect(text, SHIPPED_LANGUAGES, "en"))
            hits += found and asks
            false_alarms += found and not asks
            misses += asks and not found
    precision = hits / (hits + false_alarms)
    recall = hits / (hits + misses)
    print(f"order_status: precision {precision:.2f}, recall {recall:.2f}")
    assert precision >= 0.9
    # Measured at 39 of 42 (0.93); kept from falling back unnoticed.
    assert recall >= 0.85


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _order(number: str, day: int, **fields: Any) -> Order:
    return Order(
        number=number,
        placed_at=datetime(2026, 11, day, tzinfo=UTC),
        total=Money(amount=Decimal("10"), currency="EUR"),
        payment_status="paid",
        fulfilment_status="fulfilled",
        **fields,
    )


SHIPPED = _order("1042", 20, delivery_status="in_transit", tracking_url="https://t.example/1")
FOUND = summary([_order("1041", 2), SHIPPED], order_count=2, total_spent=None, checked_at=NOW)


def test_the_answer_quotes_the_latest_order_in_the_customers_language():
    answer = status_answer(FOUND, None, "es", NOW, NOW)
    assert answer == "Tu pedido #1042 está: enviado.\nSíguelo aquí: https://t.example/1"


def test_the_quoted_order_of_the_customer_is_the_one_answered_without_a_link_it_lacks():
    assert status_answer(FOUND, "#1041", "en", NOW, NOW) == "Your order #1041 is shipped."


def test_nothing_is_answered_for_another_order_a_stale_summary_or_a_late_question():
    assert status_answer(FOUND, "#1043", "en", NOW, NOW) is None
    assert status_answer(unavailable(FOUND, NOW), None, "en", NOW, NOW) is None
    assert status_answer(not_a_customer(NOW), None, "en", NOW, NOW) is None
    assert status_answer(None, None, "en", NOW, NOW) is None
    assert status_answer(FOUND, None, "en", NOW - timedelta(hours=1), NOW) is None
