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


@pytest.mark.parametrize("path", ["endless.bin", "declared.bin"])
def test_d11_endless_download_is_capped_and_leaves_nothing(endless_url, tmp_path, path):
    dest = tmp_path / "file.bin"
    with pytest.raises(DataError) as e:
        dl.download(endless_url + path, dest, md5="0" * 32, max_bytes=3 << 20)
    msg = str(e.value)
    assert "\n" not in msg and "3,145,728" in msg and f"put the file at {dest}" in msg
    assert ("more than the 3,145,728 bytes" in msg) if path == "endless.bin" else ("announces 1,099,511,627,776" in msg)
    assert not dest.exists() and _leftovers(tmp_path) == []


def test_d11_resources_state_a_cap_and_fetch_applies_it(endless_url, tmp_path, monkeypatch):
    from pixelar.data import cifar, mnist
    assert cifar._resource(cifar.CIFAR10).max_bytes == 200_000_000       # the archive is 170 MB
    resource = dl.Resource("file.bin", (endless_url + "endless.bin",), md5="0" * 32, max_bytes=1 << 20)
    with pytest.raises(DataError, match="more than the 1,048,576 bytes"):
        dl.fetch(resource, tmp_path)
    assert _leftovers(tmp_path) == []
    monkeypatch.setattr(dl, "DEFAULT_MAX_BYTES", 1 << 20)                  # no max_bytes: the default cap
    with pytest.raises(DataError, match="more than the 1,048,576 bytes"):
        dl.download(endless_url + "endless.bin", tmp_path / "other.bin")
    assert mnist.MNIST_MAX_BYTES > 9_912_422                               # train-images-idx3-ubyte.gz


def test_d12_stale_part_files_of_killed_downloads_are_swept(http_root, tmp_path):
    import subprocess
    import sys
    import time
    url = _serve(http_root)
    dest = tmp_path / "file.bin"
    host = dl._host_tag()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(gone.stdout)
    stale = [tmp_path / f".file.bin.{host}-{dead_pid}.abc123.part",       # killed process, this host
             tmp_path / ".file.bin.old_format.part"]                      # unrecognised and days old
    live = [tmp_path / f".file.bin.{host}-{os.getppid()}.def456.part",    # a download still running
            tmp_path / f".file.bin.otherhost-{dead_pid}.ghi789.part",      # another host's, recent
            tmp_path / ".other.bin.x.part"]                                # another file's
    for p in stale + live:
        p.write_bytes(b"partial")
    old = time.time() - 2 * dl.STALE_PART_S
    os.utime(stale[1], (old, old))
    dl.download(url, dest, md5=hashlib.md5(CONTENT).hexdigest())
    assert dest.read_bytes() == CONTENT
    assert not any(p.exists() for p in stale) and all(p.exists() for p in live)


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PIXELAR_DATA", str(tmp_path))
    assert dl.cache_dir() == tmp_path
    monkeypatch.delenv("PIXELAR_DATA")
    assert dl.cache_dir().parts[-2:] == (".cache", "pixelar")
