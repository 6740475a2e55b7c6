"""Fetching data files: checksums, atomic downloads and "put the file here" errors.

A download streams into a temporary file next to its destination, is verified
against its checksum, and only then is renamed into place, so a partial or
wrong file never appears at the destination and a good file already there is
never touched. A body longer than the file can be (the Resource's ``max_bytes``,
else :data:`DEFAULT_MAX_BYTES`) is cut off, so an endless response cannot fill
the disk. Temporary ``.part`` files are named after their host and process, and
the ones left by killed downloads are swept before the next download of the file.
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import http.client
import os
import re
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from pixelar.errors import DataError

TIMEOUT_S = 60.0          # per socket operation, not for the whole file
DEFAULT_MAX_BYTES = 2 << 30   # cap on a download whose Resource states no max_bytes (2 GiB)
STALE_PART_S = 24 * 3600.0    # a .part file not written for this long is abandoned, whoever made it
_CHUNK_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class Resource:
    """One data file: its name on disk, where to get it and its checksum.

    ``urls`` are tried in order (mirrors); an empty tuple means the file cannot
    be downloaded automatically and ``hint`` tells people where to get it.
    ``max_bytes`` is the most the file can be (a bound above its real size, in
    bytes); a server sending more is cut off (None: :data:`DEFAULT_MAX_BYTES`).
    """

    filename: str
    urls: tuple[str, ...] = ()
    md5: str | None = None
    sha256: str | None = None
    hint: str = ""
    max_bytes: int | None = None


def cache_dir() -> Path:
    """The default data directory: ``$PIXELAR_DATA`` or ``~/.cache/pixelar``."""
    env = os.environ.get("PIXELAR_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "pixelar"


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """Hex digest of a file's bytes (``algorithm`` is "md5" or "sha256")."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def _checks(sha256: str | None, md5: str | None) -> dict[str, str]:
    out = {}
    if sha256:
        out["sha256"] = sha256.lower()
    if md5:
        out["md5"] = md5.lower()
    return out


def checksum_mismatch(path: str | os.PathLike, sha256: str | None = None,
                      md5: str | None = None) -> str | None:
    """None if the file matches every given checksum, else "md5 is X, expected Y"."""
    for algorithm, expected in _checks(sha256, md5).items():
        actual = file_digest(path, algorithm)
        if actual != expected:
            return f"its {algorithm} is {actual}, expected {expected}"
    return None


class _AttemptFailed(Exception):
    """One mirror did not deliver the right file; the message says why."""


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)                  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:                      # exists but is not ours (PermissionError), or unknown
        return True
    return True


def sweep_stale_parts(dest: str | os.PathLike) -> list[Path]:
    """Remove ``.part`` files of ``dest`` left by killed downloads; returns the removed paths.

    A file made on this host by a process that no longer exists is removed at once; any
    other (another host on a shared disk, or an unrecognised name) only when it has not
    been written for :data:`STALE_PART_S` seconds. Downloads in progress are left alone.
    """
    dest = Path(dest)
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\..+\.part")
    removed = []
    for part in dest.parent.glob(f".{glob.escape(dest.name)}.*.part"):
        m = pattern.fullmatch(part.name)
        try:
            if m and m["host"] == _host_tag() and os.name == "posix":   # os.kill(pid, 0) is POSIX-only
                stale = not _pid_alive(int(m["pid"]))
            else:
                stale = time.time() - part.stat().st_mtime > STALE_PART_S
            if stale:
                part.unlink()
                removed.append(part)
        except OSError:                  # vanished meanwhile, or not ours to remove
            continue
    return removed


def _download_one(url: str, dest: Path, checks: dict[str, str], max_bytes: int) -> None:
    """Stream ``url`` to a temp file in dest's folder, verify, rename to ``dest``."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.{_host_tag()}-{os.getpid()}.", suffix=".part",
                                    dir=dest.parent)
    tmp: Path | None = Path(tmp_name)
    try:
        hashers = {algorithm: hashlib.new(algorithm) for algorithm in checks}
        num_bytes = 0
        request = urllib.request.Request(url, headers={"User-Agent": "pixelar"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
            declared = resp.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise _AttemptFailed(f"{url}: the server announces {int(declared):,} bytes, more than "
                                     f"the {max_bytes:,} this file can be")
            while chunk := resp.read(_CHUNK_BYTES):
                num_bytes += len(chunk)
                if num_bytes > max_bytes:
                    raise _AttemptFailed(f"{url}: the server sent more than the {max_bytes:,} bytes "
                                         f"this file can be; stopped")
                out.write(chunk)
                for h in hashers.values():
                    h.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        if declared is not None and num_bytes != int(declared):
            raise _AttemptFailed(f"{url}: connection closed after {num_bytes} of {declared} bytes")
        for algorithm, expected in checks.items():
            actual = hashers[algorithm].hexdigest()
            if actual != expected:
                raise _AttemptFailed(f"{url}: {algorithm} mismatch, expected {expected}, got {actual}")
        os.replace(tmp, dest)   # atomic on POSIX and Windows within one folder
        tmp = None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise _AttemptFailed(f"{url}: {type(e).__name__}: {reason}") from e
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def download(url: str | Sequence[str], dest_path: str | os.PathLike,
             sha256: str | None = None, md5: str | None = None, max_bytes: int | None = None) -> Path:
    """Download ``url`` (or the first mirror that works) to ``dest_path``.

    If ``dest_path`` already exists and matches the checksum it is returned
    untouched; if it exists and does not match, DataError (it is never
    overwritten). A body over ``max_bytes`` (default :data:`DEFAULT_MAX_BYTES`)
    is cut off and counts as a failed mirror. Raises DataError naming every
    failed mirror and where to put the file by hand when no mirror delivers a
    file with the right checksum; no ``.part`` file is left behind.
    """
    urls = [url] if isinstance(url, str) else list(url)
    dest = Path(dest_path)
    if dest.exists():
        _verify_existing(dest, sha256, md5, urls)
        return dest
    if not urls:
        raise DataError(f"no URL known for {dest.name}: put the file at {dest}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_parts(dest)
    checks = _checks(sha256, md5)
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    failures = []
    for u in urls:
        try:
            _download_one(u, dest, checks, cap)
            return dest
        except _AttemptFailed as e:
            failures.append(str(e))
    raise DataError(f"{dest.name} could not be downloaded ({'; '.join(failures)}); "
                    f"download it yourself from {urls[0]} and put the file at {dest}")


_download = download   # fetch's ``download`` flag shadows the function


def _verify_existing(path: Path, sha256: str | None, md5: str | None, urls: Sequence[str]) -> None:
    mismatch = checksum_mismatch(path, sha256, md5)
    if mismatch is not None:
        source = f" with the official file from {urls[0]}" if urls else " with the official file"
        raise DataError(f"{path} is corrupt or not the official file ({mismatch}): "
                        f"delete it to download it again, or replace it{source}")


def fetch(resource: Resource, root: str | os.PathLike, download: bool = True) -> Path:
    """Local path of ``resource`` under ``root``: verified if present, else downloaded.

    Raises DataError saying where to put the file when it is missing and
    cannot (or may not) be downloaded, and when a present file fails its
    checksum.
    """
    path = Path(root) / resource.filename
    if path.exists():
        _verify_existing(path, resource.sha256, resource.md5, resource.urls)
        return path
    if not resource.urls or not download:
        notes = [resource.hint or (f"download it from {resource.urls[0]}" if resource.urls else "")]
        if resource.urls and not download:
            notes.append("or pass download=True")
        notes = ", ".join(n for n in notes if n)
        raise DataError(f"{resource.filename} not found: put the file at {path}"
                        f"{' (' + notes + ')' if notes else ''}")
    return _download(resource.urls, path, sha256=resource.sha256, md5=resource.md5,
                     max_bytes=resource.max_bytes)
