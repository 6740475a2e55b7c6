import hashlib
import os

import pytest

from pixelar.data import download as dl
from pixelar.errors import DataError

CONTENT = b"pixelar test payload\n" * 1000


def _serve(http_root, name="file.bin", content=CONTENT):
    served, base = http_root
    (served / name).write_bytes(content)
    return base + name


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_download_success_verifies_and_leaves_no_temp(http_root, tmp_path):
    url = _serve(http_root)
    dest = tmp_path / "out" / "file.bin"
    got = dl.download(url, dest, sha256=hashlib.sha256(CONTENT).hexdigest())
    assert got == dest and dest.read_bytes() == CONTENT
    assert _leftovers(dest.parent) == []
    dest2 = tmp_path / "out" / "file2.bin"
    dl.download(url, dest2, md5=hashlib.md5(CONTENT).hexdigest())
    assert dest2.read_bytes() == CONTENT


def test_checksum_mismatch_names_both_and_leaves_nothing(http_root, tmp_path):
    url = _serve(http_root)
    dest = tmp_path / "file.bin"
    wrong = "0" * 32
    with pytest.raises(DataError) as e:
        dl.download(url, dest, md5=wrong)
    msg = str(e.value)
    assert wrong in msg and hashlib.md5(CONTENT).hexdigest() in msg and str(dest) in msg
    assert "\n" not in msg
    assert not dest.exists() and _leftovers(tmp_path) == []


def test_unreachable_server_says_where_to_put_the_file(dead_url, tmp_path):
    dest = tmp_path / "sub" / "file.bin"
    with pytest.raises(DataError) as e:
        dl.download(dead_url + "file.bin", dest, md5="0" * 32)
    assert "could not be downloaded" in str(e.value)
    assert f"put the file at {dest}" in str(e.value)
    assert not dest.exists() and _leftovers(dest.parent) == []


def test_missing_file_404_is_a_data_error(http_root, tmp_path):
    _, base = http_root
    with pytest.raises(DataError, match="put the file at"):
        dl.download(base + "nope.bin", tmp_path / "nope.bin")
    assert not (tmp_path / "nope.bin").exists()


def test_mirrors_tried_in_order(http_root, dead_url, tmp_path):
    url = _serve(http_root)
    dest = tmp_path / "file.bin"
    dl.download([dead_url + "file.bin", url], dest, md5=hashlib.md5(CONTENT).hexdigest())
    assert dest.read_bytes() == CONTENT


def test_existing_good_file_is_kept_and_bad_file_never_overwritten(http_root, dead_url, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(CONTENT)
    before = os.stat(dest).st_mtime_ns
    dl.download(dead_url + "file.bin", dest, md5=hashlib.md5(CONTENT).hexdigest())   # no network needed
    assert os.stat(dest).st_mtime_ns == before
    dest.write_bytes(b"something else")
    url = _serve(http_root)
    with pytest.raises(DataError, match="corrupt or not the official file"):
        dl.download(url, dest, md5=hashlib.md5(CONTENT).hexdigest())
    assert dest.read_bytes() == b"something else"


def test_fetch_present_missing_and_download(http_root, tmp_path):
    url = _serve(http_root)
    md5 = hashlib.md5(CONTENT).hexdigest()
    resource = dl.Resource("file.bin", (url,), md5=md5)
    with pytest.raises(DataError, match=f"put the file at {tmp_path / 'file.bin'}"):
        dl.fetch(resource, tmp_path, download=False)
    assert dl.fetch(resource, tmp_path, download=True).read_bytes() == CONTENT
    assert dl.fetch(resource, tmp_path, download=False).read_bytes() == CONTENT
    hinted = dl.Resource("other.bin", (), hint="get it from the authors")
    with pytest.raises(DataError, match="get it from the authors"):
        dl.fetch(hinted, tmp_path)


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PIXELAR_DATA", str(tmp_path))
    assert dl.cache_dir() == tmp_path
    monkeypatch.delenv("PIXELAR_DATA")
    assert dl.cache_dir().parts[-2:] == (".cache", "pixelar")
