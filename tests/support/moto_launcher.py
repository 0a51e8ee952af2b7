"""Runs moto's server for one test binary and exits when that binary does.

Prints "PORT <n>" once the server listens on 127.0.0.1 (on a port the OS
chose). Exits when its standard input closes or its parent process changes,
whichever comes first: both happen when the test binary exits, even on a
crash or a kill.
"""

import os
import sys
import threading
import time

from moto.server import ThreadedMotoServer


def watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def watch_stdin() -> None:
    while sys.stdin.buffer.read(1):
        pass
    os._exit(0)


def main() -> None:
    parent = os.getppid()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"PORT {port}", flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
    watch_parent(parent)


if __name__ == "__main__":
    main()
