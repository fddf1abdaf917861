"""Figure 7: how often `chalicelib.language.detect` names the language a customer wrote in.

Short customer messages, written for this check the way shoppers write to a shop (a question
about an order, a return, a refund, a greeting or a thanks; some without accents or
capitals), 23 in each shipped language, detected among the shipped languages. Each is right,
wrong, or unanswered (the shop's default kept). A message without evidence of a language (an
"ok", a number, an emoji) must get the default. Romanized Hindi is reported apart: a Hindi
reply is what such a customer would want, but models trained on native scripts rarely see it.
Not timed: an accuracy figure."""

import collections
from collections.abc import Callable
from typing import Any

from chalicelib.domain.auto_replies import SHIPPED_LANGUAGES

DEFAULT = "pt"

MESSAGES: dict[str, tuple[str, ...]] = {
    "en": (
        "Where is my order?",
        "Hi, my package still hasn't arrived",
        "Can I return these shoes? They're too small",
        "I was charged twice for the same order",
        "When will my refund be processed?",
        "The tracking number doesn't work",
        "Do you have this dress in a size M?",
        "I want to cancel my order please",
        "The item arrived damaged, what should I do?",
        "How long does shipping take to Chicago?",
        "thanks so much, got it today!",
        "can i change the delivery address",
        "Is this still in stock?",
        "I never received a confirmation email",
        "My order number is 4821, any update?",
        "wrong color sent, I ordered blue",
        "Do you ship internationally?",
        "Hello? Anyone there?",
        "The discount code isn't working at checkout",
        "Please call me back about my order",
        "thanks!",
        "still waiting",
        "any news?",
    ),
    "pt": (
        "Pedido não chegou",
        "Oi, cadê meu pedido?",
        "Quero trocar o tamanho da camiseta",
        "Fui cobrada duas vezes",
        "Quando vou receber o reembolso?",
        "O código de rastreio não funciona",
        "Vocês têm esse vestido no tamanho M?",
        "Quero cancelar minha compra",
        "O produto chegou quebrado, o que eu faço?",
        "Qual o prazo de entrega para Recife?",
        "obrigada, recebi hoje!",
        "posso mudar o endereço de entrega?",
        "Ainda tem em estoque?",
        "Não recebi o e-mail de confirmação",
        "Meu pedido é o 4821, alguma novidade?",
        "veio a cor errada, eu pedi azul",
        "Vocês entregam no sábado?",
        "Boa tarde, alguém pode me ajudar?",
        "O cupom de desconto nao funciona",
        "me liga por favor sobre o meu pedido",
        "obrigado!",
        "alguma novidade?",
        "bom dia",
    ),
    "es": (
        "¿Dónde está mi pedido?",
        "Hola, mi paquete todavía no llega",
        "¿Puedo devolver estos zapatos? Me quedan chicos",
        "Me cobraron dos veces el mismo pedido",
        "¿Cuándo me devuelven el dinero?",
        "El número de seguimiento no funciona",
        "¿Tienen este vestido en talla M?",
        "Quiero cancelar mi pedido por favor",
        "El producto llegó roto, ¿qué hago?",
        "¿Cuánto tarda el envío a Monterrey?",
        "muchas gracias, ya me llegó!",
        "puedo cambiar la direccion de entrega",
        "¿Todavía hay en stock?",
        "No recibí el correo de confirmación",
        "Mi número de pedido es 4821, ¿alguna novedad?",
        "me mandaron el color equivocado, pedí azul",
        "¿Hacen envíos a Chile?",
        "Buenas tardes, ¿alguien me puede ayudar?",
        "El código de descuento no sirve",
        "llámenme por favor, es sobre mi pedido",
        "gracias!",
        "¿alguna novedad?",
        "buenos días",
    ),
    "hu": (
        "Hol van a csomagom?",
        "Hol van a rendelésem?",
        "Szia, még mindig nem érkezett meg a csomag",
        "Vissza szeretném küldeni a cipőt, kicsi",
        "Kétszer vonták le az összeget",
        "Mikor kapom vissza a pénzemet?",
        "A csomagkövetési szám nem működik",
        "Van ez a ruha M-es méretben?",
        "Szeretném lemondani a rendelésemet",
        "Sérülten érkezett a termék, mit tegyek?",
        "Mennyi idő a szállítás Debrecenbe?",
        "köszönöm, megjött ma!",
        "meg tudom valtoztatni a szallitasi cimet?",
        "Van még raktáron?",
        "Nem kaptam visszaigazoló emailt",
        "A rendelésszámom 4821, van valami hír?",
        "rossz színt küldtetek, kéket rendeltem",
        "Jó napot, tud valaki segíteni?",
        "Nem működik a kuponkód",
        "Kérem hívjanak vissza a rendelésem miatt",
        "köszi!",
        "mikor jön?",
        "jó reggelt",
    ),
    "id": (
        "Pesanan saya di mana ya?",
        "Halo, paket saya belum sampai",
        "Bisa tukar ukuran sepatunya? Kekecilan",
        "Saya kena tagih dua kali",
        "Kapan dana saya dikembalikan?",
        "Nomor resinya tidak bisa dilacak",
        "Baju ini ada ukuran M?",
        "Saya mau batalkan pesanan",
        "Barangnya datang rusak, gimana ini?",
        "Berapa lama pengiriman ke Surabaya?",
        "makasih kak, sudah sampai hari ini!",
        "bisa ganti alamat pengiriman?",
        "Masih ada stok?",
        "Saya belum terima email konfirmasi",
        "Nomor pesanan saya 4821, ada kabar?",
        "warnanya salah, saya pesan biru",
        "Apakah bisa kirim ke Malaysia?",
        "Selamat siang, ada yang bisa bantu?",
        "Kode diskonnya tidak bisa dipakai",
        "tolong telepon saya soal pesanan saya",
        "terima kasih",
        "kapan sampai?",
        "selamat pagi",
    ),
    "ar": (
        "أين طلبي؟",
        "مرحبا، الطرد لم يصل بعد",
        "هل يمكنني إرجاع الحذاء؟ المقاس صغير",
        "تم خصم المبلغ مرتين",
        "متى سيتم استرداد المبلغ؟",
        "رقم التتبع لا يعمل",
        "هل هذا الفستان متوفر بمقاس M؟",
        "أريد إلغاء الطلب من فضلك",
        "وصل المنتج مكسورا، ماذا أفعل؟",
        "كم يستغرق الشحن إلى الرياض؟",
        "شكرا جزيلا، وصلني اليوم!",
        "هل يمكن تغيير عنوان التوصيل؟",
        "هل ما زال متوفرا؟",
        "لم يصلني بريد التأكيد",
        "رقم طلبي 4821، هل من جديد؟",
        "وصلني لون خاطئ، طلبت الأزرق",
        "هل تشحنون إلى مصر؟",
        "مساء الخير، هل من أحد يساعدني؟",
        "كود الخصم لا يعمل",
        "أرجو الاتصال بي بخصوص طلبي",
        "شكرا",
        "متى يصل؟",
        "صباح الخير",
    ),
    "hi": (
        "मेरा ऑर्डर कहाँ है?",
        "नमस्ते, मेरा पार्सल अभी तक नहीं आया",
        "क्या मैं ये जूते वापस कर सकता हूँ? छोटे हैं",
        "मुझसे दो बार पैसे कट गए",
        "मेरा रिफंड कब आएगा?",
        "ट्रैकिंग नंबर काम नहीं कर रहा",
        "क्या यह ड्रेस M साइज़ में है?",
        "मुझे अपना ऑर्डर कैंसल करना है",
        "सामान टूटा हुआ आया है, क्या करूँ?",
        "दिल्ली तक डिलीवरी में कितने दिन लगेंगे?",
        "बहुत धन्यवाद, आज मिल गया!",
        "क्या डिलीवरी का पता बदल सकते हैं?",
        "क्या यह अभी स्टॉक में है?",
        "मुझे कन्फर्मेशन ईमेल नहीं मिला",
        "मेरा ऑर्डर नंबर 4821 है, कोई अपडेट?",
        "गलत रंग भेजा है, मैंने नीला मंगाया था",
        "क्या आप विदेश में भी भेजते हैं?",
        "कोई है? जवाब दीजिए",
        "डिस्काउंट कोड काम नहीं कर रहा",
        "कृपया मेरे ऑर्डर के बारे में मुझे कॉल करें",
        "धन्यवाद",
        "कब आएगा?",
        "नमस्ते जी",
    ),
}

ROMANIZED_HINDI = (
    "mera order kahan hai?",
    "bhai parcel abhi tak nahi aaya",
    "paise do baar kat gaye",
    "refund kab milega?",
    "mujhe order cancel karna hai",
    "galat size bheja hai",
    "kitne din mein delivery hogi",
    "koi reply kyun nahi kar raha",
)

WITHOUT_EVIDENCE = (
    "ok",
    "OK",
    "Ok!",
    "ok 👍",
    "k",
    "hmm",
    "?",
    "👍",
    "123",
    "👍 123",
    "🙏🙏",
    "#4821",
)

Detect = Callable[[str, list[str], str], str]

# Given as the fallback for the messages in a language, so that keeping the default counts
# as no answer rather than as a right one for Portuguese.
NO_ANSWER = "-"


def measure(detect: Detect | None = None) -> dict[str, Any]:
    """The app's detector's figures, or another's given to compare them."""
    if detect is None:
        from chalicelib.language import detect as apps

        detect = apps
    candidates = list(SHIPPED_LANGUAGES)
    right: collections.Counter[str] = collections.Counter()
    unanswered: list[dict[str, str]] = []
    wrong: list[dict[str, str]] = []
    for language, texts in MESSAGES.items():
        for text in texts:
            found = detect(text, candidates, NO_ANSWER)
            if found == language:
                right[language] += 1
            else:
                missed = {"text": text, "expected": language, "detected": found}
                (unanswered if found == NO_ANSWER else wrong).append(missed)
    messages = sum(len(texts) for texts in MESSAGES.values())
    romanized = [detect(text, candidates, NO_ANSWER) for text in ROMANIZED_HINDI]
    defaulted = [detect(text, candidates, DEFAULT) for text in WITHOUT_EVIDENCE]
    return {
        "messages": messages,
        "right": right.total(),
        "accuracy": round(right.total() / messages, 3),
        "by_language": {language: right[language] for language in MESSAGES},
        "unanswered": unanswered,
        "wrong": wrong,
        "romanized_hindi": {
            "messages": len(ROMANIZED_HINDI),
            "right": romanized.count("hi"),
            "detected": dict(collections.Counter(romanized)),
        },
        "without_evidence": {
            "messages": len(WITHOUT_EVIDENCE),
            "defaulted": defaulted.count(DEFAULT),
            "detected": dict(collections.Counter(defaulted)),
        },
    }
