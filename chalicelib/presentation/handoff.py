"""The hand-off summary as a thread note: what the customer wants, what has been done, what is
still open, labelled in the shop's working language. The customer's words (and a model's,
which may repeat them) are escaped and bounded."""

from dataclasses import dataclass

from chalicelib.domain.handoff import HandoffDigest, HandoffReason, ModelSummary
from chalicelib.domain.triage.record import Intent
from chalicelib.presentation.slack_blocks import (
    SlackMessage,
    context_block,
    escape_mrkdwn,
    fitted_message,
    section_block,
)


@dataclass(frozen=True)
class Labels:
    title: str
    assigned: str  # {user}
    requested: str  # {user}
    reopened: str
    wants: str
    done: str
    still_open: str
    nothing_said: str
    replies: str  # {agent} {automatic}
    no_replies: str
    unanswered: str  # {count}
    all_answered: str
    by_model: str
    intents: dict[Intent, str]


LABELS: dict[str, Labels] = {
    "en": Labels(
        title="Summary",
        assigned="for <@{user}>, who now has this conversation",
        requested="asked for by <@{user}>",
        reopened="the conversation is back after a quiet day",
        wants="What the customer wants",
        done="What has been done",
        still_open="What is still open",
        nothing_said="nothing in words yet",
        replies="{agent} replies from agents, {automatic} automatic",
        no_replies="no reply yet",
        unanswered="customer messages waiting for an answer: {count}",
        all_answered="every customer message has an answer",
        by_model="Written by a model from the thread: check it there before acting on it.",
        intents={
            Intent.ORDER_STATUS: "order status",
            Intent.DELIVERY_PROBLEM: "delivery problem",
            Intent.RETURN_EXCHANGE: "return or exchange",
            Intent.REFUND: "refund",
            Intent.CANCEL: "cancellation",
            Intent.CHANGE_ORDER: "order change",
            Intent.PRODUCT_QUESTION: "product question",
            Intent.PAYMENT_PROBLEM: "payment problem",
            Intent.COMPLAINT: "complaint",
            Intent.PRAISE: "praise",
            Intent.OTHER: "other",
        },
    ),
    "pt": Labels(
        title="Resumo",
        assigned="para <@{user}>, que agora tem esta conversa",
        requested="pedido por <@{user}>",
        reopened="a conversa voltou depois de um dia parada",
        wants="O que o cliente quer",
        done="O que já foi feito",
        still_open="O que ainda está em aberto",
        nothing_said="ainda nada por escrito",
        replies="{agent} respostas de atendentes, {automatic} automáticas",
        no_replies="ainda sem resposta",
        unanswered="{count} mensagens do cliente aguardam resposta",
        all_answered="todas as mensagens do cliente têm resposta",
        by_model="Escrito por um modelo a partir da conversa: confira antes de agir.",
        intents={
            Intent.ORDER_STATUS: "status do pedido",
            Intent.DELIVERY_PROBLEM: "problema na entrega",
            Intent.RETURN_EXCHANGE: "devolução ou troca",
            Intent.REFUND: "reembolso",
            Intent.CANCEL: "cancelamento",
            Intent.CHANGE_ORDER: "alteração do pedido",
            Intent.PRODUCT_QUESTION: "dúvida sobre produto",
            Intent.PAYMENT_PROBLEM: "problema de pagamento",
            Intent.COMPLAINT: "reclamação",
            Intent.PRAISE: "elogio",
            Intent.OTHER: "outro",
        },
    ),
    "es": Labels(
        title="Resumen",
        assigned="para <@{user}>, que ahora lleva esta conversación",
        requested="pedido por <@{user}>",
        reopened="la conversación vuelve tras un día en silencio",
        wants="Qué quiere el cliente",
        done="Qué se ha hecho",
        still_open="Qué sigue pendiente",
        nothing_said="nada por escrito todavía",
        replies="{agent} respuestas de agentes, {automatic} automáticas",
        no_replies="sin respuesta todavía",
        unanswered="{count} mensajes del cliente esperan respuesta",
        all_answered="todos los mensajes del cliente tienen respuesta",
        by_model="Escrito por un modelo a partir del hilo: compruébalo antes de actuar.",
        intents={
            Intent.ORDER_STATUS: "estado del pedido",
            Intent.DELIVERY_PROBLEM: "problema de entrega",
            Intent.RETURN_EXCHANGE: "devolución o cambio",
            Intent.REFUND: "reembolso",
            Intent.CANCEL: "cancelación",
            Intent.CHANGE_ORDER: "cambio de pedido",
            Intent.PRODUCT_QUESTION: "pregunta sobre un producto",
            Intent.PAYMENT_PROBLEM: "problema de pago",
            Intent.COMPLAINT: "queja",
            Intent.PRAISE: "elogio",
            Intent.OTHER: "otro",
        },
    ),
    "hu": Labels(
        title="Összefoglaló",
        assigned="<@{user}> részére, aki most viszi ezt a beszélgetést",
        requested="<@{user}> kérésére",
        reopened="a beszélgetés egy csendes nap után újra él",
        wants="Mit szeretne az ügyfél",
        done="Mi történt eddig",
        still_open="Mi van még nyitva",
        nothing_said="még semmi írásban",
        replies="{agent} ügyintézői válasz, {automatic} automatikus",
        no_replies="még nincs válasz",
        unanswered="{count} ügyfélüzenet vár válaszra",
        all_answered="minden ügyfélüzenetre van válasz",
        by_model="Egy modell írta a szál alapján: cselekvés előtt ellenőrizze ott.",
        intents={
            Intent.ORDER_STATUS: "rendelés állapota",
            Intent.DELIVERY_PROBLEM: "szállítási probléma",
            Intent.RETURN_EXCHANGE: "visszaküldés vagy csere",
            Intent.REFUND: "visszatérítés",
            Intent.CANCEL: "lemondás",
            Intent.CHANGE_ORDER: "rendelés módosítása",
            Intent.PRODUCT_QUESTION: "termékkérdés",
            Intent.PAYMENT_PROBLEM: "fizetési probléma",
            Intent.COMPLAINT: "panasz",
            Intent.PRAISE: "dicséret",
            Intent.OTHER: "egyéb",
        },
    ),
    "id": Labels(
        title="Ringkasan",
        assigned="untuk <@{user}>, yang sekarang memegang percakapan ini",
        requested="diminta oleh <@{user}>",
        reopened="percakapan kembali setelah sehari sepi",
        wants="Yang diinginkan pelanggan",
        done="Yang sudah dilakukan",
        still_open="Yang masih terbuka",
        nothing_said="belum ada yang tertulis",
        replies="{agent} balasan agen, {automatic} otomatis",
        no_replies="belum ada balasan",
        unanswered="{count} pesan pelanggan menunggu jawaban",
        all_answered="semua pesan pelanggan sudah dijawab",
        by_model="Ditulis oleh model dari utas: periksa di sana sebelum bertindak.",
        intents={
            Intent.ORDER_STATUS: "status pesanan",
            Intent.DELIVERY_PROBLEM: "masalah pengiriman",
            Intent.RETURN_EXCHANGE: "retur atau penukaran",
            Intent.REFUND: "pengembalian dana",
            Intent.CANCEL: "pembatalan",
            Intent.CHANGE_ORDER: "perubahan pesanan",
            Intent.PRODUCT_QUESTION: "pertanyaan produk",
            Intent.PAYMENT_PROBLEM: "masalah pembayaran",
            Intent.COMPLAINT: "keluhan",
            Intent.PRAISE: "pujian",
            Intent.OTHER: "lainnya",
        },
    ),
    "hi": Labels(
        title="सारांश",
        assigned="<@{user}> के लिए, जिनके पास अब यह बातचीत है",
        requested="<@{user}> के अनुरोध पर",
        reopened="एक दिन की चुप्पी के बाद बातचीत फिर शुरू हुई",
        wants="ग्राहक क्या चाहता है",
        done="अब तक क्या किया गया",
        still_open="क्या अभी बाकी है",
        nothing_said="अभी तक कुछ लिखा नहीं गया",
        replies="एजेंटों के {agent} जवाब, {automatic} स्वचालित",
        no_replies="अभी तक कोई जवाब नहीं",
        unanswered="ग्राहक के {count} संदेश जवाब की प्रतीक्षा में हैं",
        all_answered="ग्राहक के हर संदेश का जवाब दिया गया है",
        by_model="थ्रेड से एक मॉडल ने लिखा है: कार्रवाई से पहले वहाँ जाँच लें।",
        intents={
            Intent.ORDER_STATUS: "ऑर्डर की स्थिति",
            Intent.DELIVERY_PROBLEM: "डिलीवरी की समस्या",
            Intent.RETURN_EXCHANGE: "वापसी या बदलाव",
            Intent.REFUND: "रिफ़ंड",
            Intent.CANCEL: "रद्द करना",
            Intent.CHANGE_ORDER: "ऑर्डर में बदलाव",
            Intent.PRODUCT_QUESTION: "उत्पाद के बारे में प्रश्न",
            Intent.PAYMENT_PROBLEM: "भुगतान की समस्या",
            Intent.COMPLAINT: "शिकायत",
            Intent.PRAISE: "प्रशंसा",
            Intent.OTHER: "अन्य",
        },
    ),
    "ar": Labels(
        title="ملخص",
        assigned="إلى <@{user}> الذي يتولى هذه المحادثة الآن",
        requested="بطلب من <@{user}>",
        reopened="عادت المحادثة بعد يوم من الهدوء",
        wants="ما يريده العميل",
        done="ما تم إنجازه",
        still_open="ما زال مفتوحًا",
        nothing_said="لا شيء مكتوب بعد",
        replies="{agent} ردود من الموظفين، {automatic} تلقائية",
        no_replies="لا رد بعد",
        unanswered="{count} رسائل من العميل تنتظر الرد",
        all_answered="كل رسائل العميل تم الرد عليها",
        by_model="كتبه نموذج من المحادثة: تحقق منه هناك قبل التصرف.",
        intents={
            Intent.ORDER_STATUS: "حالة الطلب",
            Intent.DELIVERY_PROBLEM: "مشكلة في التوصيل",
            Intent.RETURN_EXCHANGE: "إرجاع أو استبدال",
            Intent.REFUND: "استرداد المبلغ",
            Intent.CANCEL: "إلغاء",
            Intent.CHANGE_ORDER: "تعديل الطلب",
            Intent.PRODUCT_QUESTION: "سؤال عن منتج",
            Intent.PAYMENT_PROBLEM: "مشكلة في الدفع",
            Intent.COMPLAINT: "شكوى",
            Intent.PRAISE: "إشادة",
            Intent.OTHER: "أخرى",
        },
    ),
}


def labels_for(language: str) -> Labels:
    """The labels in `language` (its base, as `pt_BR` is `pt`); English for another."""
    return LABELS.get(language.split("_", 1)[0].split("-", 1)[0].lower(), LABELS["en"])


def _heading(labels: Labels, reason: HandoffReason, user_id: str | None) -> str:
    user = escape_mrkdwn(user_id or "")
    match reason:
        case HandoffReason.ASSIGNED:
            why = labels.assigned.format(user=user)
        case HandoffReason.REQUESTED:
            why = labels.requested.format(user=user)
        case HandoffReason.REOPENED:
            why = labels.reopened
    return f":memo: *{labels.title}* {why}"


def digest_note(
    digest: HandoffDigest, language: str, reason: HandoffReason, user_id: str | None
) -> SlackMessage:
    """The extractive digest as a thread note."""
    labels = labels_for(language)
    wanted = ", ".join(labels.intents[intent] for intent in digest.intents)
    quoted = "\n".join(f">{escape_mrkdwn(point)}" for point in digest.points)
    wants = "\n".join(part for part in (wanted and f"_{wanted}_", quoted) if part)
    if digest.agent_replies or digest.automatic_replies:
        done = labels.replies.format(agent=digest.agent_replies, automatic=digest.automatic_replies)
    else:
        done = labels.no_replies
    still_open = (
        labels.unanswered.format(count=digest.unanswered)
        if digest.unanswered
        else labels.all_answered
    )
    return _note(labels, reason, user_id, wants or labels.nothing_said, done, still_open)


def model_note(
    summary: ModelSummary, language: str, reason: HandoffReason, user_id: str | None
) -> SlackMessage:
    """A model's summary as a thread note, said to be a model's."""
    labels = labels_for(language)
    wants, done, still_open = (escape_mrkdwn(part) for part in summary.parts())
    note = _note(labels, reason, user_id, wants, done, still_open)
    blocks = [*note.blocks, context_block(f":robot_face: {labels.by_model}")]
    return fitted_message(note.text, blocks)


def _note(
    labels: Labels,
    reason: HandoffReason,
    user_id: str | None,
    wants: str,
    done: str,
    still_open: str,
) -> SlackMessage:
    heading = _heading(labels, reason, user_id)
    blocks = [
        section_block(heading),
        section_block(f"*{labels.wants}*\n{wants}"),
        section_block(f"*{labels.done}*\n{done}"),
        section_block(f"*{labels.still_open}*\n{still_open}"),
    ]
    return fitted_message(f"{labels.title}: {labels.still_open.lower()} — {still_open}", blocks)
