"""Starts and stops the whole local stack in one process."""

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from chalicelib.local.pump import SchedulePump, pumps_for, tickers_for
from chalicelib.settings import SCHEDULE_GROUP

PROJECT_DIR = Path(__file__).resolve().parents[2]
LOCAL_REGION = "us-east-1"
LOCAL_ADMIN_TOKEN = "local-admin-token"
LOCAL_SIGNING_SECRET = "local-slack-signing-secret"


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    aws_port: int = 4566
    slack_port: int = 8001
    twilio_port: int = 8002
    # None: serve the sandbox stand-in; a URL: use that API (the real one, or a test's).
    slack_api_url: str | None = None
    twilio_api_url: str | None = None
    environ: dict[str, str] = field(default_factory=dict)


class LocalStack:
    def __init__(self, options: StackOptions, out: TextIO = sys.stdout) -> None:
        self.options = options
        self._out = out
        self._stoppers: list[Any] = []
        self._sandbox_outbox: Any = None

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        options = self.options
        self._check_ports_free()
        aws_url = self._start_emulator()
        slack_url = options.slack_api_url or self._start_slack_sandbox()
        twilio_url = options.twilio_api_url or self._start_twilio_sandbox()
        env = {
            "AWS_ENDPOINT_URL": aws_url,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "THREADLINE_PUBLIC_URL": self.api_url,
            "THREADLINE_ADMIN_TOKEN": LOCAL_ADMIN_TOKEN,
            "SLACK_SIGNING_SECRET": LOCAL_SIGNING_SECRET,
            "POWERTOOLS_SERVICE_NAME": "threadline",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        # What the caller's environment sets wins (real tokens, a tunnel's public URL).
        env.update({name: os.environ[name] for name in env if name in os.environ})
        env.update(options.environ)
        env["SLACK_API_URL"] = slack_url
        env["TWILIO_API_URL"] = twilio_url
        os.environ.update(env)

        import boto3

        from chalicelib.local.provision import provision

        outputs = provision(boto3.client("cloudformation"), boto3.client("scheduler"))
        os.environ.setdefault("THREADLINE_MEDIA_BUCKET", outputs["MediaBucketName"])
        self._start_api()
        self._start_pumps()
        self._print_banner(env, aws_url)

    def _check_ports_free(self) -> None:
        import socket

        options = self.options
        wanted = {"--port": options.port, "--aws-port": options.aws_port}
        if options.slack_api_url is None:
            wanted["--slack-port"] = options.slack_port
        if options.twilio_api_url is None:
            wanted["--twilio-port"] = options.twilio_port
        for flag, port in wanted.items():
            with socket.socket() as probe:
                try:
                    probe.bind((options.host, port))
                except OSError:
                    raise SystemExit(
                        f"Port {port} is in use (another local stack?). Stop it, or choose "
                        f"another port with {flag}."
                    ) from None

    def _start_emulator(self) -> str:
        import logging

        from moto.server import ThreadedMotoServer

        # The emulator's access log would drown the outbox.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address=self.options.host, port=self.options.aws_port)
        server.start()
        self._stoppers.append(server.stop)
        return f"http://{self.options.host}:{self.options.aws_port}"

    def _start_slack_sandbox(self) -> str:
        from chalicelib.local.sandbox import SlackStandIn

        slack = SlackStandIn(self._outbox())
        url = slack.start(self.options.host, self.options.slack_port)
        self._stoppers.append(slack.stop)
        return url

    def _start_twilio_sandbox(self) -> str:
        from chalicelib.local.sandbox import TwilioStandIn

        twilio = TwilioStandIn(self._outbox())
        url = twilio.start(self.options.host, self.options.twilio_port)
        self._stoppers.append(twilio.stop)
        return url

    def _outbox(self) -> Any:
        from chalicelib.local.sandbox import Outbox

        if self._sandbox_outbox is None:
            self._sandbox_outbox = Outbox(self._out)
        return self._sandbox_outbox

    def _start_api(self) -> None:
        import threading

        from chalice.config import Config
        from chalice.local import create_local_server

        from app import app

        config = Config.create(
            chalice_stage="dev", app_name="threadline", project_dir=str(PROJECT_DIR)
        )
        server = create_local_server(app, config, self.options.host, self.options.port)
        thread = threading.Thread(target=server.server.serve_forever, name="api", daemon=True)
        thread.start()
        self._stoppers.append(server.shutdown)

    def _start_pumps(self) -> None:
        import boto3

        from app import app

        for pump in pumps_for(app, boto3.client("sqs")):
            pump.start()
            self._stoppers.append(pump.stop)
        for ticker in tickers_for(app):
            ticker.start()
            self._stoppers.append(ticker.stop)
        schedules = SchedulePump(boto3.client("scheduler"), boto3.client("sqs"), SCHEDULE_GROUP)
        schedules.start()
        self._stoppers.append(schedules.stop)

    def _print_banner(self, env: dict[str, str], aws_url: str) -> None:
        admin_token = env["THREADLINE_ADMIN_TOKEN"]
        if admin_token != LOCAL_ADMIN_TOKEN:
            admin_token = "(THREADLINE_ADMIN_TOKEN from your environment)"
        lines = [
            "Threadline local stack is up.",
            f"  API            {self.api_url}",
            f"  AWS emulator   {aws_url}",
            f"  Slack API      {env['SLACK_API_URL']}"
            + ("  (sandbox: calls print below)" if not self.options.slack_api_url else ""),
            f"  Twilio API     {env['TWILIO_API_URL']}"
            + ("  (sandbox: calls print below)" if not self.options.twilio_api_url else ""),
            f"  Admin token    {admin_token}",
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), file=self._out, flush=True)

    def stop(self) -> None:
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception as error:  # keep stopping the rest
                print(f"stopping: {error}", file=self._out)
