"""Sandbox stand-ins for Slack, Twilio and SES, so the local stack runs without any accounts.

Tiny HTTP servers imitate the parts of the Slack Web API, the Twilio Messages API (and,
for connecting a shop's numbers, IncomingPhoneNumbers and the WhatsApp Senders API) and SES
that the official clients call (``slack_sdk.WebClient(base_url=...)`` and
``twilio.rest.Client`` with a URL-rewriting http client). Every call is recorded in an
:class:`Outbox` and printed readably to a stream: that printout is what a newcomer watches
in the terminal to see what would have gone to Slack and to customers.

The Twilio stand-in also plays Twilio's part afterwards: it sends signed status callbacks
(``sent``, ``delivered``, and ``read`` for WhatsApp) to the ``StatusCallback`` URL.

Each server answers ``GET /_outbox`` with the JSON list of their own recorded entries, so
an end-to-end test or a demo script in another process can read what was sent.

Only the standard library is used, plus ``twilio.request_validator`` for signing. What Slack
refuses in a message or a modal (Block Kit's limits) is refused here too, in Slack's words
(`slack_limits`).

One module a provider (`slack`, `twilio`, `ses`), the `outbox` and its `printing`, the
`faults` injected for reliability runs, and the `server` they share.
"""
