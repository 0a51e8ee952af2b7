"""Runs moto's server for one test binary and exits when that binary does.

Prints "PORT <n>" once the server listens on 127.0.0.1 (on a port the OS
chose). Exits when its standard input closes or its parent process changes,
whichever comes first: both happen when the test binary exits, even on a
crash or a kill.
"""

import json
import os
import sys
import threading
import time
from datetime import datetime

import moto.appmesh.responses
from moto.server import ThreadedMotoServer

APP_MESH_TIME = "%d/%m/%Y, %H:%M:%S"


def _epoch_seconds(value):
    """A moto App Mesh timestamp as the epoch seconds the API returns."""
    if isinstance(value, dict):
        return {k: _epoch_seconds(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_seconds(v) for v in value]
    if isinstance(value, str):
        try:
            return datetime.strptime(value, APP_MESH_TIME).timestamp()
        except ValueError:
            return value
    return value


class _AppMeshJson:
    """moto 5.2.5 formats App Mesh `createdAt`/`lastUpdatedAt` with
    strftime("%d/%m/%Y, %H:%M:%S") in the `to_dict` methods of
    moto/appmesh/dataclasses/{mesh,virtual_node,virtual_router,route,
    virtual_gateway,gateway_route}.py, and moto/appmesh/responses.py
    (AppMeshResponse) dumps those dicts as they are. The App Mesh API sends
    epoch seconds, and the Rust SDK refuses the string: rewrite them as the
    responses are serialised."""

    loads = staticmethod(json.loads)

    @staticmethod
    def dumps(obj, *args, **kwargs):
        return json.dumps(_epoch_seconds(obj), *args, **kwargs)


moto.appmesh.responses.json = _AppMeshJson


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
