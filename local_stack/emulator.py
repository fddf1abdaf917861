"""The AWS emulator (moto's server, with local_stack.moto_patches) in a process of its own.

In the stack's process it shared one interpreter lock with the API and the workers: every
emulated call waited for the lock the calling thread had just released, and the emulator's
own CPU (nearly half of the stack's, by profile) could not use the machine's second core."""

import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable

STARTUP_SECONDS = 60.0
# How often the emulator looks whether the stack that started it is still there.
ORPHAN_CHECK_SECONDS = 1.0


def _serve(host: str, port: int, parent: int) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    from local_stack.moto_patches import patch_emulator

    patch_emulator()
    # The emulator's access log would drown the outbox.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port)
    server.start()
    # A stack killed outright cannot stop it: it ends when its parent is gone.
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    server.stop()


def _accepting(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_emulator(host: str, port: int) -> Callable[[], None]:
    """Starts the emulator's process and waits until it accepts connections; returns what
    stops it."""
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(host, port, os.getpid()), name="aws emulator", daemon=True
    )
    process.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _accepting(host, port):
        if not process.is_alive() or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the AWS emulator did not start on {host}:{port}")
        time.sleep(0.05)

    lock = threading.Lock()

    def stop() -> None:
        with lock:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()

    return stop
