"""Free local ports for stacks that run side by side (the tests' and the reliability run's)."""

import random
import socket

# Below the kernel's ephemeral range (Linux 32768-60999, macOS 49152-65535): a server that
# binds port 0 is never handed a port chosen here in the moment between its choice and its
# bind, as it could be one the kernel picked for an earlier probe.
CHOSEN_PORTS = range(20000, 32768)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, outside the ephemeral range."""
    while True:
        port = random.choice(CHOSEN_PORTS)  # noqa: S311 (spreads choices, not a secret)
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
