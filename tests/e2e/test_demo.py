"""`make run` + `make demo` as a newcomer runs them: the stack with its own sandbox Slack and
Twilio, and the demo script walking the loop against it."""

import os
import signal
import subprocess
import sys
import time

import pytest

from local_stack.ports import free_port
from tests.e2e.conftest import PROJECT_DIR


def run_demo(
    ports: dict[str, int], *flags: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """`make demo` (with `flags`) against a stack's own sandboxes."""
    urls = {
        "--api": ports["--port"],
        "--slack": ports["--slack-port"],
        "--twilio": ports["--twilio-port"],
        "--telegram": ports["--telegram-port"],
        "--shopify": ports["--shopify-port"],
    }
    arguments = [item for flag, port in urls.items() for item in (flag, f"http://127.0.0.1:{port}")]
    return subprocess.run(
        [sys.executable, "-m", "local_stack.demo", *flags, *arguments],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_stack(tmp_path, **extra_env: str):
    ports = {
        flag: free_port()
        for flag in (
            "--port",
            "--aws-port",
            "--slack-port",
            "--twilio-port",
            "--ses-port",
            "--smtp-port",
            "--telegram-port",
            "--shopify-port",
        )
    }
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "SLACK_", "TWILIO_", "TELEGRAM_", "META_"))
    }
    log = tmp_path / "stack.log"
    arguments = [str(item) for pair in ports.items() for item in pair]
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_stack", *arguments],
            cwd=PROJECT_DIR,
            env={**env, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8", **extra_env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "local stack is up" not in log.read_text(encoding="utf-8"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"local stack did not start:\n{log.read_text(encoding='utf-8')}")
        time.sleep(0.2)
    return ports, log, process


@pytest.fixture
def sandbox_stack(tmp_path):
    ports, log, process = start_stack(tmp_path)
    yield ports, log, process
    if process.poll() is None:
        process.kill()


@pytest.fixture
def sla_stack(tmp_path):
    # A target minute lasts a second, as the escalations demo of docs/DEVELOPING.md runs it.
    ports, log, process = start_stack(tmp_path, THREADLINE_SLA_MINUTE_SECONDS="1")
    yield ports, log, process
    if process.poll() is None:
        process.kill()


def test_the_demo_walks_the_whole_loop_and_ctrl_c_stops_the_stack(sandbox_stack):
    ports, log, process = sandbox_stack
    # When the demo runs against the stack's own sandbox
    demo = run_demo(ports, timeout=90)
    # Then every step succeeds
    assert demo.returncode == 0, demo.stdout + demo.stderr
    for step in (
        "2. two customers wrote at once: two threads",
        "3. the agent took Ana's conversation",
        "4. a note in the thread stayed internal",
        "5. a canned response went to Ana",
        "6. the agent attached a file",
        "7. the agent resolved the conversation",
        "8. Ana wrote again: the conversation reopened",
        "9. an Instagram DM was answered from Slack: sent, and marked seen",
        "10. a Telegram message was answered from Slack: the bot sent it",
        "11. the agent refunded a line of #1042 from Slack",
        "12. Ana asked where her order is: answered at once with its tracking link",
        "13. the warehouse shipped Bruno's #1043: he was told first, by SMS",
    ):
        assert step in demo.stdout
    # And the outbox printed the thread, the reply and the receipts, unicode intact
    outbox = log.read_text(encoding="utf-8")
    assert "[slack] chat.postMessage #C0DEMO (new thread" in outbox
    assert "Olá! Meu pedido #1042 ainda não chegou 📦 &lt;!channel&gt;" in outbox
    assert "[twilio] WhatsApp whatsapp:+14155550101 → whatsapp:+5511987654321" in outbox
    assert "Olá Ana! Seu pedido #1042 saiu para entrega hoje." in outbox
    assert "— Beatriz, Loja Demo" in outbox
    assert "[slack] chat.update #C0DEMO" in outbox
    assert "cliente antiga" not in outbox.split("[twilio]", 1)[1]
    # And the Instagram and Telegram answers went out through their own APIs
    assert "[meta] Send API → 17840000000000123 (RESPONSE): Temos sim! Separei um M 💙" in outbox
    assert "[telegram] sendMessage → chat 5550101: Yarın kargoda 🚚" in outbox
    # And the refund was made once in the Shopify sandbox, its signed webhooks delivered to
    # the shop, and Ana's tracking link sent to her on WhatsApp
    assert outbox.count("[shopify] ThreadlineRefund\n") == 1
    assert "refunded *129.90 BRL*" in demo.stdout
    api = f"http://127.0.0.1:{ports['--port']}"
    delivered = f"→ {api}/webhooks/shopify/demo-shop: HTTP 200 (attempt 1)"
    assert f"[shopify] webhook refunds/create {delivered}" in outbox
    assert "rastreamento.correios.com.br/app/index.php?objeto=BR987654321" in outbox
    # And Bruno's shipment was told to him first, once, on SMS, in Portuguese, with its link
    assert f"[shopify] webhook fulfillments/create {delivered}" in outbox
    told = "[twilio] SMS +14155550100 → +5521998877665: Boa notícia: seu pedido #1043 foi enviado."
    assert outbox.count(told) == 1
    assert "objeto=BR555000111" in outbox.split(told)[1].split("\n[", 1)[0]
    # When Ctrl-C is pressed
    process.send_signal(signal.SIGINT)
    # Then everything stops cleanly
    assert process.wait(timeout=20) == 0
    assert "Stopping the local stack" in log.read_text(encoding="utf-8")


def test_the_escalations_demo_warns_breaches_and_escalates_only_the_unanswered(sla_stack):
    ports, log, _ = sla_stack
    demo = run_demo(ports, "--sla", timeout=120)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Responderemos até hoje às" in demo.stdout
    for step in (
        "4. warning",
        "5. breach",
        "6. second level",
        "7. the answered conversation got 0",
    ):
        assert step in demo.stdout
    # And the outbox printed the DM and the escalation channel's line
    outbox = log.read_text(encoding="utf-8")
    assert "[slack] chat.postMessage #U0LEAD" in outbox
    assert "[slack] chat.postMessage #C0ESCALATE" in outbox
