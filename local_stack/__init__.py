"""The local stack: the whole of Threadline on a laptop, against a local AWS emulator.

`python -m local_stack` (what `make run` starts) runs moto's server, provisions it from
infra/, serves the chalice app's routes over HTTP, pumps the SQS queues into the same event
handlers Lambda would call, and, unless told otherwise, serves sandbox stand-ins of the Slack
and Twilio APIs whose calls are printed as the outbox.
"""
