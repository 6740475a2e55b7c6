"""Fixtures for the data tests: a local HTTP server and writers of tiny files
in the official on-disk formats (built here, so no test needs the network)."""
from __future__ import annotations

import functools
import http.server
import io
import pickle
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """(folder served, base URL ending in '/') of a server on 127.0.0.1 in a thread."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _EndlessHandler(http.server.BaseHTTPRequestHandler):
    """Streams zeros forever; ``/declared`` first announces a huge Content-Length."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        if self.path.startswith("/declared"):
            self.send_header("Content-Length", str(1 << 40))
        self.end_headers()
        chunk = b"\0" * 65536
        try:
            while True:
                self.wfile.write(chunk)
        except OSError:      # the client hung up: what a capped download does
            pass


@pytest.fixture
def endless_url():
    """Base URL (ending in '/') of a local server whose every response body never ends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EndlessHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def dead_url():
    """A URL on a local port nobody listens on (connection refused at once)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def cifar_batch(rng: np.random.Generator, n: int, label_key: str, num_classes: int) -> tuple[dict, np.ndarray, list]:
    """A CIFAR batch dict with bytes keys, as the Python-2 original reads under Python 3."""
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, num_classes, size=n)]
    batch = {b"batch_label": b"testing batch", b"data": data, label_key.encode(): labels,
             b"filenames": [b"img_%d.png" % i for i in range(n)]}
    if label_key == "fine_labels":
        batch[b"coarse_labels"] = [v // 5 for v in labels]
    return batch, data, labels


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_cifar_archive(path: Path, folder: str, files: dict[str, dict]) -> None:
    """tar.gz holding ``folder/<name>`` = pickled batch (protocol 2), like the official one."""
    with tarfile.open(path, "w:gz") as tar:
        dir_info = tarfile.TarInfo(folder)
        dir_info.type = tarfile.DIRTYPE
        tar.addfile(dir_info)
        for name, batch in files.items():
            add_bytes(tar, f"{folder}/{name}", pickle.dumps(batch, protocol=2))
        add_bytes(tar, f"{folder}/readme.html", b"<html></html>")


def idx_bytes(array: np.ndarray) -> bytes:
    """uint8 array -> IDX bytes (magic 0 0 8 ndim, big-endian sizes)."""
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def amat_bytes(images: np.ndarray) -> bytes:
    """(N, 784) 0/1 array -> .amat text, one image per line, single spaces."""
    return b"".join(b" ".join(b"%d" % v for v in row) + b"\n" for row in images)


@pytest.fixture
def formats():
    """The writers above, for test modules (conftest is not importable under importlib mode)."""
    import types
    return types.SimpleNamespace(cifar_batch=cifar_batch, add_bytes=add_bytes,
                                 write_cifar_archive=write_cifar_archive, idx_bytes=idx_bytes,
                                 amat_bytes=amat_bytes)
