"""`threadline`: the operators' command line.

It speaks to a deployment's admin API (`--api`, `--token`, or THREADLINE_API_URL and
THREADLINE_ADMIN_TOKEN; the local stack's by default) and, for dead-letter queues, the
table's one-off upgrades and `doctor`, to AWS with the usual credentials.
"""

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from chalicelib.settings import (
    EMAIL_EVENTS_TOPIC,
    FAILED_EMAIL_EVENTS_QUEUE,
    FAILED_MAIL_QUEUE,
    INBOUND_MAIL_TOPIC,
    INBOUND_QUEUE,
    OUTBOUND_QUEUE,
    TIMERS_QUEUE,
    dead_letter_queue,
)

app = typer.Typer(
    help="Threadline: run it locally, manage shops and customers, look after the queues."
)
shop_app = typer.Typer(help="Create, read, list and delete shops; connect their Twilio numbers.")
conversation_app = typer.Typer(help="A shop's conversations: list them, export one.")
customer_app = typer.Typer(help="Customers: find, link their addresses, export, erase.")
message_app = typer.Typer(help="Messages the shop sends first (order shipped, a delay).")
dlq_app = typer.Typer(help="Dead-letter queues: what waits there, and moving it back.")
app.add_typer(shop_app, name="shop")
app.add_typer(conversation_app, name="conversation")
app.add_typer(customer_app, name="customer")
app.add_typer(message_app, name="message")
app.add_typer(dlq_app, name="dlq")
console = Console()


@app.callback()
def _measure_the_terminal() -> None:
    """Each run measures the terminal it prints to: a console made when the module was
    imported keeps the width of whatever imported it first."""
    global console
    console = Console()


LOCAL_API = "http://127.0.0.1:8000"
LOCAL_TOKEN = "local-admin-token"
DEAD_LETTERS = {
    dead_letter_queue(queue): queue for queue in (INBOUND_QUEUE, OUTBOUND_QUEUE, TIMERS_QUEUE)
}

Api = Annotated[str, typer.Option(envvar="THREADLINE_API_URL", help="the API's base URL")]
Token = Annotated[str, typer.Option(envvar="THREADLINE_ADMIN_TOKEN", help="admin bearer token")]


def _send(method: str, api: str, token: str, path: str, body: Any = None) -> Any:
    """The API's answer to a request (a `requests.Response`); a refusal is printed with its
    reason and ends the command."""
    import requests

    try:
        response = requests.request(
            method,
            api.rstrip("/") + path,
            headers={"Authorization": f"Bearer {token}"},
            json=body,
            timeout=30,
        )
    except requests.RequestException as error:
        console.print(f"[red]Cannot reach {api}: {type(error).__name__}[/red]")
        raise typer.Exit(2) from error
    if response.status_code >= 400:
        answer = response.json() if response.content else {}
        console.print(f"[red]{response.status_code}: {answer.get('error', response.text)}[/red]")
        for detail in answer.get("errors", []):
            console.print(f"  {detail.get('field')}: {detail.get('error')}")
        raise typer.Exit(1)
    return response


def _call(method: str, api: str, token: str, path: str, body: Any = None) -> Any:
    response = _send(method, api, token, path, body)
    return response.json() if response.content else {}


def _write(text: str, out: Path | None) -> None:
    """An export, to a file or to stdout as it is."""
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"Written to {out}.")


@app.command()
def dev(
    port: int = 8000, aws_port: int = 4566, slack_port: int = 8001, twilio_port: int = 8002
) -> None:
    """Run the whole local stack (as `make run`) until Ctrl-C."""
    from local_stack.__main__ import main

    arguments = ["--port", str(port), "--aws-port", str(aws_port)]
    arguments += ["--slack-port", str(slack_port), "--twilio-port", str(twilio_port)]
    raise typer.Exit(main(arguments))


@shop_app.command("put")
def shop_put(
    shop_id: str,
    document: Annotated[Path, typer.Argument(exists=True, readable=True, help="shop JSON")],
    api: Api = LOCAL_API,
    token: Token = LOCAL_TOKEN,
) -> None:
    """Create or replace a shop from its JSON."""
    body = json.loads(document.read_text(encoding="utf-8"))
    shown = _call("PUT", api, token, f"/admin/shops/{shop_id}", body)
    console.print(f"[green]Shop {shop_id} saved.[/green] Its webhook URLs:")
    _print_urls(shown)


@shop_app.command("get")
def shop_get(shop_id: str, api: Api = LOCAL_API, token: Token = LOCAL_TOKEN) -> None:
    """A shop's JSON, secrets masked (what `shop put` takes back)."""
    shown = _call("GET", api, token, f"/admin/shops/{shop_id}")
    sys.stdout.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")


@shop_app.command("list")
def shop_list(api: Api = LOCAL_API, token: Token = LOCAL_TOKEN) -> None:
    """Every shop, with its channels."""
    shops = _call("GET", api, token, "/admin/shops")["shops"]
    table = Table("shop", "name", "Slack", "SMS", "WhatsApp", "email", "Meta")
    for shop in shops:
        twilio = shop.get("twilio") or {}
        table.add_row(
            shop["shop_id"],
            shop["name"],
            (shop.get("slack") or {}).get("channel_id", "not connected"),
            ", ".join(twilio.get("sms_numbers", [])),
            ", ".join(twilio.get("whatsapp_numbers", [])),
            (shop.get("email") or {}).get("address", ""),
            _meta_ids(shop.get("meta") or {}),
        )
    console.print(table)


def _meta_ids(meta: dict[str, Any]) -> str:
    """The ids a shop claims on Meta's channels, each named by its channel."""
    parts = [
        ("whatsapp_cloud", (meta.get("whatsapp") or {}).get("phone_number_id")),
        ("messenger", (meta.get("messenger") or {}).get("page_id")),
        ("instagram", (meta.get("instagram") or {}).get("account_id")),
    ]
    return ", ".join(f"{channel} {id_}" for channel, id_ in parts if id_)


# The customer channels, as options name them.
CHANNEL_NAMES = "sms, whatsapp, email, telegram, whatsapp_cloud, messenger, instagram"

# How each number's result shows; failures and numbers Twilio does not know are red.
RESULT_COLOURS = {"connected": "green", "manual": "yellow"}


@shop_app.command("delete")
def shop_delete(
    shop_id: str,
    erase_customers: Annotated[
        bool, typer.Option("--erase-customers", help="erase every customer of the shop first")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
    api: Api = LOCAL_API,
    token: Token = LOCAL_TOKEN,
) -> None:
    """Delete a shop: its configuration, addresses and secrets; with --erase-customers, every
    customer's data first (refused while any conversation is left)."""
    from rich.progress import Progress

    if not yes:
        what = "every customer of" if erase_customers else ""
        typer.confirm(f"Delete {what} {shop_id}? It cannot be undone", abort=True)
    if erase_customers:
        customers = _every_customer(shop_id, api, token)
        with Progress(console=console) as progress:
            erasing = progress.add_task("Erasing customers", total=len(customers))
            for address in customers:
                _call("DELETE", api, token, _customer_path(shop_id, address))
                progress.advance(erasing)
    _call("DELETE", api, token, f"/admin/shops/{shop_id}")
    console.print(f"Shop {shop_id} deleted.")


def _every_customer(shop_id: str, api: str, token: str) -> list[str]:
    """The addresses of every conversation of the shop, page by page."""
    from urllib.parse import quote

    addresses: dict[str, None] = {}
    cursor: str | None = ""
    while cursor is not None:
        query = "limit=100" + (f"&cursor={quote(cursor)}" if cursor else "")
        page = _call("GET", api, token, f"/admin/shops/{shop_id}/conversations?{query}")
        addresses.update(dict.fromkeys(c["customer_address"] for c in page["conversations"]))
        cursor = page["next_cursor"]
    return list(addresses)


@shop_app.command("connect-twilio")
def shop_connect_twilio(shop_id: str, api: Api = LOCAL_API, token: Token = LOCAL_TOKEN) -> None:
    """Point the shop's Twilio numbers and WhatsApp senders at this deployment (with the
    auth token the deployment stores). Exits 1 unless every number is connected."""
    answer = _call("POST", api, token, f"/admin/shops/{shop_id}/twilio/connect")
    numbers = answer["numbers"]
    console.print("[bold]The numbers' messaging webhook[/bold]")
    console.print(f"  {answer['webhook']}", soft_wrap=True, highlight=False)
    table = Table("number", "channel", "result", "detail")
    for number in numbers:
        colour = RESULT_COLOURS.get(number["result"], "red")
        result = f"[{colour}]{number['result']}[/{colour}]"
        table.add_row(number["number"], number["channel"], result, number["detail"])
    console.print(table if numbers else "The shop has no Twilio numbers.")
    if any(number["result"] != "connected" for number in numbers):
        raise typer.Exit(1)


@shop_app.command("connect-telegram")
def shop_connect_telegram(shop_id: str, api: Api = LOCAL_API, token: Token = LOCAL_TOKEN) -> None:
    """Point the shop's Telegram bot at this deployment: setWebhook with the secret token
    Threadline keeps (the bot token never leaves the deployment)."""
    answer = _call("POST", api, token, f"/admin/shops/{shop_id}/telegram/connect")
    username = answer.get("bot_username")
    bot = f"@{username}" if username else f"bot {answer['bot_id']}"
    console.print(f"[bold]{bot}[/bold] now delivers to", highlight=False)
    console.print(f"  {answer['webhook']}", soft_wrap=True, highlight=False)
    console.print(f"  updates: {', '.join(answer['allowed_updates'])}", highlight=False)
    console.print(f"  secret token: {answer['secret_token']}", highlight=False)


# How each verdict shows.
MARKS = {"passed": "[green]✔[/green]", "failed": "[red]✘[/red]", "not_configured": "[dim]–[/dim]"}


@app.command()
def doctor(
    shop_id: Annotated[
        str | None, typer.Argument(help="one shop; every shop when left out")
    ] = None,
    api: Api = LOCAL_API,
    token: Token = LOCAL_TOKEN,
) -> None:
    """Whether the deployment and each shop's connections really work: one line per check,
    ✔ or ✘ with what to do. Exits 1 unless every check passes."""
    from threadline_cli.doctor import AdminApi, AwsAccount, all_passed, examine

    sections = examine(AdminApi(api, token), AwsAccount(), shop_id)
    for section in sections:
        table = Table("", "check", "found", "what to do", title=section.title, title_justify="left")
        for check in section.checks:
            name = " ".join(part for part in (check.subject, check.name) if part)
            table.add_row(MARKS[check.verdict.value], name, check.detail, check.fix)
        console.print(table, highlight=False)
    if not all_passed(sections):
        console.print("[red]Something a shop needs is not right: see the ✘ lines.[/red]")
        raise typer.Exit(1)
    console.print("[green]Everything checked works.[/green]")


@app.command()
def urls(shop_id: str, api: Api = LOCAL_API, token: Token = LOCAL_TOKEN) -> None:
    """Every URL a shop pastes where (Twilio numbers, the Slack app)."""
    _print_urls(_call("GET", api, token, f"/admin/shops/{shop_id}"))


WHERE = {
    "twilio_messaging": "Twilio: each number's messaging webhook (POST)",
    "twilio_status_callback": "Twilio: status callbacks (sent with each reply)",
    "slack_events": "Slack app: Event Subscriptions request URL",
    "slack_interactivity": "Slack app: Interactivity request URL",
    "slack_commands": "Slack app: /threadline command URL",
    "slack_oauth_redirect": "Slack app: OAuth redirect URL",
    "slack_install": "Send to the shop: its Add to Slack link (a week)",
}


def _print_urls(shown: dict[str, Any]) -> None:
    # Each URL whole on a line of its own, to copy as it is.
    for name, url in shown.get("webhooks", {}).items():
        console.print(f"[bold]{WHERE.get(name, name)}[/bold]")
        console.print(f"  {url}", soft_wrap=True, highlight=False)


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _average(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


FIGURE_COLUMNS = (
    "conversations",
    "first response median",
    "first response p90",
    "resolution median",
    "resolution p90",
    "SLA met",
    "SLA breached",
    "SLA compliance",
    "CSAT answers",
    "CSAT average",
)


def _figure_cells(figures: dict[str, Any]) -> list[str]:
    first, resolution = figures["first_response"], figures["resolution"]
    sla, csat = figures["sla"], figures["csat"]
    return [
        str(figures["conversations"]),
        _seconds(first["median_seconds"]),
        _seconds(first["p90_seconds"]),
        _seconds(resolution["median_seconds"]),
        _seconds(resolution["p90_seconds"]),
        str(sla["met"]),
        str(sla["breached"]),
        _share(sla["compliance"]),
        str(csat["count"]),
        _average(csat["average"]),
    ]


@app.command()
def report(
    shop_id: str,
    from_: Annotated[str | None, typer.Option("--from", help="first local day, YYYY-MM-DD")] = None,
    to: Annotated[str | None, typer.Option(help="last local day (included), YYYY-MM-DD")] = None,
    api: Api = LOCAL_API,
    token: Token = LOCAL_TOKEN,
) -> None:
    """A shop's figures over local days (the last seven by default): totals, channels, agents."""
    from urllib.parse import urlencode

    dates = {name: day for name, day in (("from", from_), ("to", to)) if day}
    query = f"?{urlencode(dates)}" if dates else ""
    shown = _call("GET", api, token, f"/admin/shops/{shop_id}/reports{query}")
    console.print(
        f"[bold]{shop_id}[/bold]: conversations opened from {shown['start']} "
        f"to {shown['end']} ({shown['timezone']}); durations h:mm:ss"
    )
    # Figures down, who across: readable in a narrow terminal.
    totals = Table("figure", "value", title="Totals")
    for figure, cell in zip(FIGURE_COLUMNS, _figure_cells(shown["totals"]), strict=True):
        totals.add_row(figure, cell)
    console.print(totals)
    channels = Table("channel", "conversations", title="By channel")
    for channel, count in shown["totals"]["by_channel"].items():
        channels.add_row(channel, str(count))
    console.print(channels)
    agents = shown["agents"]
    by_agent = Table(
        "figure", *(a["assignee_user_id"] or "(unassigned)" for a in agents), title="By agent"
    )
    cells = [_figure_cells(agent) for agent in agents]
    for row, figure in enumerate(FIGURE_COLUMNS):
        by_agent.add_row(figure, *(column[row] for column in cells))
    console.print(by_agent if agents else "No conversations in the period.")


Out = Annotated[Path | None, typer.Option("--out", help="write to this file, not stdout")]


def _id_column() -> Column:
    # Ids are copied into the next command: never cut short.
    return Column("conversation", no_wrap=True, min_width=26)


def _counted(count: int, thing: str) -> str:
    return f"{count} {thing}" + ("" if count == 1 else "s")


def _minute(iso: str) -> str:
    """A stored UTC time to the minute ("2026-11-23 19:55")."""
    return iso[:16].replace("T", " ")


@conversation_app.command("list")
def conversation_list(
    shop_id: str,
    status: Annotated[str | None, typer.Option(help="open, pending, snoozed, resolved")] = None,
    channel: Annotated[str | None, typer.Option(help=CHANNEL_NAMES)] = None,
    limit: int = 20,
    api: Api = LOCAL_API,
    token: Token = LOCAL_TOKEN,
) -> None:
    """The shop's latest conversations."""
    from urllib.parse import urlencode

    filters = {"status": status, "channel": channel, "limit": str(limit)}
    query = urlencode({name: value for name, value in filters.items() if value})
    answer = _call("GET", api, token, f"/admin/shops/{shop_id}/conversations?{query}")
    table = Table(_id_column(), "channel", "customer", "status", "msgs", "started (UTC)")
    for found in answer["conversations"]:
        table.add_row(
            found["conversation_id"],
            found["channel"],
            found.get("customer_name") or found["customer_address"],
            found["status"],
            str(found["message_count"]),
            _minute(found["created_at"]),
        )
    console.print(table if answer["conversations"] else "No conversations.")


@conversation_app.command("export")
def conversation_export(
    shop_id: str,
    conversation_id: str,
    format_: Annotated[str, typer.Option("--format", help="json, csv or html")] = "json",
    out: Out = None,
    api: Api = LOCAL_API,
    token: Token = LOCAL_TOKEN,
) -> None:
    """A conversation's transcript (JSON, CSV, or a readable HTML page)."""
    from urllib.parse import quote

    path = f"/admin/shops/{shop_id}/conversations/{quote(conversation_id)}?format={quote(format_)}"
    _write(_send("GET", api, token, path).text, out)


def _customer_path(shop_id: str, address: str) -> str:
    from urllib.parse import quote

    return f"/admin/shops/{shop_id}/customers/{quote(address, safe='')}"


def _print_customer(customer: dict[str, Any]) -> None:
    name = customer.get("name") or "(no name)"
    linked = f" · profile {customer['customer_id']}" if customer.get("customer_id") else ""
    console.print(f"[bold]{name}[/bold]{linked}", highlight=False)
    for entry in customer["addresses"]:
        console.print(f"  {entry['channel']:<9} {entry['address']}", highlight=False)
    table = Table(_id_column(), "channel", "status", "msgs", "started (UTC)")
    for found in customer["conversations"]:
        table.add_row(
            found["conversation_id"],
            found["channel"],
            found["status"],
            str(found["message_count"]),
            _minute(found["created_at"]),
        )
    if customer["conversations"]:
        console.print(table)


@customer_app.command("find")
def customer_find(
    shop_id: str, query: str, api: Api = LOCAL_API, token: Token = LOCAL_TOKEN
) -> None:
    """Customers by any of their addresses, or by a part of their name."""
    from urllib.parse import quote

    answer = _call("GET", api, token, f"/admin/shops/{shop_id}/customers?q={quote(query)}")
    for customer in answer["customers"]:
        _print_customer(customer)
    if not answer["customers"]:
        console.print("No such customer.")


@customer_app.command("link")
def customer_link(
    shop_id: str, address: str, other: str, api: Api = LOCAL_API, token: Token = LOCAL_TOKEN
) -> None:
    """Link another address (an email, another number) to the customer's."""
    path = _customer_path(shop_id, address) + "/links"
    _print_customer(_call("POST", api, token, path, {"address": other}))


@customer_app.command("export")
def customer_export(
    shop_id: str, address: str, out: Out = None, api: Api = LOCAL_API, token: Token = LOCAL_TOKEN
) -> None:
    """Everything about one customer, as JSON."""
    exported = _call("GET", api, token, _customer_path(shop_id, address))
    _write(json.dumps(exported, ensure_ascii=False, indent=2), out)


@customer_app.command("erase")
def customer_erase(
    shop_id: str,
    address: str,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
    api: Api = LOCAL_API,
    token: Token = LOCAL_TOKEN,
) -> None:
    """Erase a customer (every linked address): messages, files, mail, the bot's Slack posts."""
    if not yes:
        typer.confirm(
            f"Erase everything about {address} in {shop_id}? It cannot be undone", abort=True
        )
    receipt = _call("DELETE", api, token, _customer_path(shop_id, address))
    console.print(
        f"Erased {_counted(receipt['conversations'], 'conversation')}, "
        f"{_counted(receipt['messages'], 'message')} and {_counted(receipt['files'], 'file')}; "
        f"{_counted(receipt['slack_messages_deleted'], 'Slack post')} and "
        f"{_counted(receipt['slack_files_deleted'], 'Slack file')} deleted, "
        f"{receipt['slack_messages_left'] + len(receipt['slack_files_left'])} left to the "
        "workspace's admin."
    )
    console.print(f"Receipt: {receipt['erased_at']} {receipt['customer_sha256']}", highlight=False)


@message_app.command("send")
def message_send(
    shop_id: str,
    channel: Annotated[str, typer.Option(help=CHANNEL_NAMES)],
    to: Annotated[str, typer.Option(help="the customer's number or email address")],
    text: Annotated[str, typer.Option(help="the message")],
    message_id: Annotated[str | None, typer.Option("--id", help="idempotency key")] = None,
    subject: Annotated[str | None, typer.Option(help="email only")] = None,
    template: Annotated[str | None, typer.Option(help="WhatsApp template ContentSid (HX…)")] = None,
    variable: Annotated[
        list[str] | None, typer.Option(help="a template variable, 1=Ana (repeatable)")
    ] = None,
    api: Api = LOCAL_API,
    token: Token = LOCAL_TOKEN,
) -> None:
    """Send a message to a customer first; their answer lands in the shop's Slack."""
    body: dict[str, Any] = {"channel": channel, "to": to, "text": text}
    body |= {"id": message_id} if message_id else {}
    body |= {"subject": subject} if subject else {}
    if template:
        pairs = (item.partition("=") for item in variable or [])
        body["template"] = {"content_sid": template, "variables": {k: v for k, _, v in pairs}}
    answer = _call("POST", api, token, f"/admin/shops/{shop_id}/messages", body)
    console.print(f"Queued {answer['message_id']} to {answer['to']}.", highlight=False)


@dlq_app.command("list")
def dlq_list() -> None:
    """How many records wait in each dead-letter queue."""
    import boto3

    sqs = boto3.client("sqs")
    table = Table("dead-letter queue", "waiting", "feeds back into")
    feeds = {
        **DEAD_LETTERS,
        FAILED_MAIL_QUEUE: f"{INBOUND_MAIL_TOPIC} (the mail ingester)",
        FAILED_EMAIL_EVENTS_QUEUE: f"{EMAIL_EVENTS_TOPIC} (the SES events handler)",
    }
    for dead_letter, source in feeds.items():
        url = sqs.get_queue_url(QueueName=dead_letter)["QueueUrl"]
        count = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        table.add_row(dead_letter, count, source)
    console.print(table)


@dlq_app.command("redrive")
def dlq_redrive(
    queue: Annotated[str, typer.Argument(help="inbound, outbound, timers, mail or email-events")],
) -> None:
    """Move a dead-letter queue's records back to its queue (SQS's message move task, or
    one by one where the endpoint has none, as the local emulator); for mail and
    email-events, publish each SNS notification the function gave up on to its topic
    again."""
    import boto3

    from chalicelib.queues import Queues, replay_failed_notifications

    notifications = {"mail": FAILED_MAIL_QUEUE, "email-events": FAILED_EMAIL_EVENTS_QUEUE}
    if queue in notifications:
        failed = notifications[queue]
        replayed = replay_failed_notifications(boto3.client("sqs"), boto3.client("sns"), failed)
        console.print(
            f"[green]Published again[/green] {_counted(replayed.published, 'notification')} "
            f"from {failed}.",
            highlight=False,
        )
        if replayed.kept:
            console.print(
                f"[red]Kept[/red] {_counted(replayed.kept, 'record')} that hold no "
                "notification: look at them in the queue.",
                highlight=False,
            )
        return
    dead_letter = f"threadline-{queue}-dlq.fifo"
    if dead_letter not in DEAD_LETTERS:
        console.print("[red]The queue is inbound, outbound, timers, mail or email-events.[/red]")
        raise typer.Exit(1)
    queues = Queues(boto3.client("sqs"), INBOUND_QUEUE, OUTBOUND_QUEUE)
    redrive = queues.redrive(DEAD_LETTERS[dead_letter])
    records = _counted(redrive.records, "record")
    if redrive.task_handle is None:
        console.print(
            f"[green]Moved back[/green] {records} from {dead_letter} to {redrive.queue}.",
            highlight=False,
        )
    else:
        console.print(
            f"[green]Moving back[/green] {records} from {dead_letter} to {redrive.queue} "
            f"(SQS move task {redrive.task_handle}).",
            highlight=False,
        )


@app.command("index-customer-data")
def index_customer_data() -> None:
    """File the customer messages and profiles stored before the customer index (GSI2)
    existed under it, so erasure, export and shop deletion find them: once, after upgrading
    (a table scan)."""
    import boto3

    from chalicelib.settings import TABLE_NAME
    from chalicelib.store.upgrades import Upgrades

    indexed = Upgrades(boto3.client("dynamodb"), TABLE_NAME).index_customer_data()
    console.print(f"[green]Indexed[/green] {_counted(indexed, 'item')}.", highlight=False)


@app.command("index-shops")
def index_shops() -> None:
    """File the shops stored before the shops index (GSI2's SHOPS partition) existed under
    it, so the daily digests and `shop list` find them: once, after upgrading (a table
    scan)."""
    import boto3

    from chalicelib.settings import TABLE_NAME
    from chalicelib.store.upgrades import Upgrades

    indexed = Upgrades(boto3.client("dynamodb"), TABLE_NAME).index_shops()
    console.print(f"[green]Indexed[/green] {_counted(indexed, 'shop')}.", highlight=False)


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    app()
