"""`python -m local_stack`: run the whole local stack until Ctrl-C."""

import argparse
import os
import signal
import sys
import threading

from local_stack.stack import LocalStack, StackOptions

REAL_SLACK_API = "https://slack.com/api/"
REAL_TWILIO_API = "https://api.twilio.com"


def parse_options(argv: list[str]) -> StackOptions:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack",
        description="Threadline on this machine: AWS emulator, HTTP API, queue workers, a "
        "mail server, a sandbox SES, and sandbox Slack and Twilio APIs unless real ones are "
        "asked for.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="HTTP API port")
    parser.add_argument("--aws-port", type=int, default=4566, help="AWS emulator port")
    parser.add_argument("--slack-port", type=int, default=8001, help="sandbox Slack API port")
    parser.add_argument("--twilio-port", type=int, default=8002, help="sandbox Twilio API port")
    parser.add_argument("--ses-port", type=int, default=8003, help="sandbox SES API port")
    parser.add_argument("--smtp-port", type=int, default=2525, help="local mail server port")
    parser.add_argument(
        "--telegram-port", type=int, default=8004, help="sandbox Telegram Bot API port"
    )
    parser.add_argument(
        "--shopify-port", type=int, default=8005, help="sandbox Shopify API port (0: any free one)"
    )
    parser.add_argument(
        "--real-slack", action="store_true", help="call slack.com instead of the sandbox"
    )
    parser.add_argument(
        "--real-twilio", action="store_true", help="call api.twilio.com instead of the sandbox"
    )
    args = parser.parse_args(argv)
    slack_url = os.environ.get("SLACK_API_URL") or (REAL_SLACK_API if args.real_slack else None)
    twilio_url = os.environ.get("TWILIO_API_URL") or (REAL_TWILIO_API if args.real_twilio else None)
    return StackOptions(
        host=args.host,
        port=args.port,
        aws_port=args.aws_port,
        slack_port=args.slack_port,
        twilio_port=args.twilio_port,
        ses_port=args.ses_port,
        smtp_port=args.smtp_port,
        shopify_port=args.shopify_port,
        slack_api_url=slack_url,
        twilio_api_url=twilio_url,
        telegram_port=args.telegram_port,
        telegram_api_url=os.environ.get("TELEGRAM_API_URL") or None,
        meta_graph_url=os.environ.get("META_GRAPH_URL") or None,
    )


def main(argv: list[str]) -> int:
    stack = LocalStack(parse_options(argv))
    stopped = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopped.set())
    try:
        stack.start()
        stopped.wait()
    finally:
        print("\nStopping the local stack…", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
