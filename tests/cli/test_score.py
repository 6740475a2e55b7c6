"""`pixelar score`: one row per image, the same numbers as `pixelar eval`, likelihood ratio, typicality."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from pixelar.cli import main
from pixelar.registry import load
from tests.conftest import fails, tiny


@pytest.fixture
def ckpt(tmp_path):
    model = tiny("pixelcnn", "small", 8)
    model.save(str(tmp_path / "model"))
    return tmp_path / "model"


@pytest.fixture
def ref_ckpt(tmp_path):
    model = tiny("gated_pixelcnn", "small", 8)   # another family: a different background model
    model.save(str(tmp_path / "ref"))
    return tmp_path / "ref"


def _rgb(rng, w, h):
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


@pytest.fixture
def same_size(tmp_path):
    """8x8 PNGs of every kind eval reads: RGB, gray, RGBA and 16-bit gray."""
    rng = np.random.default_rng(0)
    d = tmp_path / "same"
    d.mkdir()
    _rgb(rng, 8, 8).save(d / "a_rgb.png")
    Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(d / "b_gray.png")
    Image.fromarray(rng.integers(0, 256, (8, 8, 4), dtype=np.uint8), "RGBA").save(d / "c_rgba.png")
    Image.fromarray(rng.integers(0, 65536, (8, 8), dtype=np.uint16)).save(d / "d_gray16.png")
    return d


@pytest.fixture
def mixed(same_size):
    rng = np.random.default_rng(1)
    _rgb(rng, 12, 10).save(same_size / "e_12x10.png")
    _rgb(rng, 20, 17).save(same_size / "f_20x17.png")
    return same_size


def score(capsys, *argv):
    assert main(["score", *map(str, argv)]) == 0, capsys.readouterr().err
    capsys.readouterr()


def eval_bpd(capsys, ckpt, dataset):
    assert main(["eval", "--checkpoint", str(ckpt), "--dataset", dataset, "--json"]) == 0
    return json.loads(capsys.readouterr().out)["bits_per_dim"]


def test_mixed_sizes_one_row_per_image_or_refused(ckpt, mixed, tmp_path, capsys):
    out = tmp_path / "s.csv"
    fails(["score", "--checkpoint", str(ckpt), "--input", str(mixed), "--out", str(out)], capsys, "e_12x10.png is 12x10")
    assert not out.exists()
    score(capsys, "--checkpoint", ckpt, "--input", mixed, "--out", out, "--crop", "center")
    rows = list(csv.DictReader(out.open()))
    assert [r["name"].rsplit("/", 1)[1] for r in rows] == sorted(p.name for p in mixed.iterdir())
    tiles = tmp_path / "t.csv"
    score(capsys, "--checkpoint", ckpt, "--input", mixed, "--out", tiles, "--crop", "tiles")
    names = [r["name"].rsplit("/", 1)[1] for r in csv.DictReader(tiles.open())]
    assert len(names) == 4 + 1 + 4 and "f_20x17.png#r1c1" in names     # 20x17: 2 x 2 tiles of 8
    small = tmp_path / "small"
    small.mkdir()
    _rgb(np.random.default_rng(2), 6, 9).save(small / "tiny.png")
    fails(["score", "--checkpoint", str(ckpt), "--input", str(small), "--out", str(tmp_path / "u.csv"),
           "--crop", "center"], capsys, "tiny.png is 6x9 pixels, smaller")


def test_equals_pixelar_eval(ckpt, same_size, mixed, tmp_path, capsys):
    out = tmp_path / "s.json"
    score(capsys, "--checkpoint", ckpt, "--input", same_size, "--out", out, "--crop", "center", "--batch-size", "2")
    r = json.loads(out.read_text())
    want = eval_bpd(capsys, ckpt, f"folder:{same_size}?image_size=8")   # eval center-crops too
    assert r["num_images"] == 6 and abs(r["bits_per_dim"] - want) < 1e-6
    assert abs(sum(row["nats"] for row in r["rows"]) / (math.log(2) * 6 * 192) - want) < 1e-6
    # npz input: one row per index, equal to eval on npz:
    rng = np.random.default_rng(3)
    npz = tmp_path / "d.npz"
    np.savez(npz, test_images=rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8))
    score(capsys, "--checkpoint", ckpt, "--input", npz, "--out", tmp_path / "n.json")
    r = json.loads((tmp_path / "n.json").read_text())
    assert [row["name"] for row in r["rows"]] == [f"{npz}[{i}]" for i in range(5)]
    assert abs(r["bits_per_dim"] - eval_bpd(capsys, ckpt, f"npz:{npz}")) < 1e-6


def test_reference_gives_the_likelihood_ratio(ckpt, ref_ckpt, same_size, tmp_path, capsys):
    out = tmp_path / "s.json"
    score(capsys, "--checkpoint", ckpt, "--reference", ref_ckpt, "--input", same_size, "--out", out, "--sort", "llr")
    rows = json.loads(out.read_text())["rows"]
    assert [r["llr_nats"] for r in rows] == sorted(r["llr_nats"] for r in rows)
    rows.sort(key=lambda r: r["index"])
    from pixelar.evaluation.score_inputs import collect_inputs
    x = torch.stack(collect_inputs([str(same_size)], 3, 8).images)
    with torch.no_grad():
        llr = load(ckpt).log_prob(x).double() - load(ref_ckpt).log_prob(x).double()
    for r, v in zip(rows, llr.tolist()):
        assert abs(r["llr_nats"] - v) < 1e-3 and abs(r["llr_nats"] - (r["ref_nats"] - r["nats"])) < 1e-9
        assert abs(r["llr_bits_per_dim"] - v / (math.log(2) * 192)) < 1e-6


def test_typicality_columns(ckpt, same_size, tmp_path, capsys):
    rng = np.random.default_rng(4)
    held = tmp_path / "held.npz"
    np.savez(held, images=rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8))
    out = tmp_path / "s.json"
    score(capsys, "--checkpoint", ckpt, "--input", same_size, "--out", out, "--typicality-from", held,
          "--typicality-batch", "3")
    r = json.loads(out.read_text())
    with torch.no_grad():
        h = float(-load(ckpt).log_prob(torch.from_numpy(np.load(held)["images"]).permute(0, 3, 1, 2)).double().mean())
    t = r["typicality"]
    assert abs(t["entropy_nats"] - h) < 1e-3 and t["num_images"] == 6 and t["m"] == 3
    rows = r["rows"]
    for row in rows:
        assert abs(row["typicality_nats"] - abs(row["nats"] - t["entropy_nats"])) < 1e-9
    eps = abs(np.mean([row["nats"] for row in rows[:3]]) - t["entropy_nats"])
    assert abs(rows[0]["typicality_batch_nats"] - eps) < 1e-9 and t["num_batches"] == 1
    assert rows[3]["typicality_batch"] is None and t["left_out_images"] == 1
    assert rows[0]["typicality_ood"] == (eps > t["threshold_nats"])


def test_nll_maps_and_refusals(ckpt, same_size, tmp_path, capsys):
    out, maps = tmp_path / "s.csv", tmp_path / "maps"
    score(capsys, "--checkpoint", ckpt, "--input", same_size, "--out", out, "--nll-maps", maps, "--sort", "bpd",
          "--descending")
    bpd = [float(r["bits_per_dim"]) for r in csv.DictReader(out.open())]
    assert bpd == sorted(bpd, reverse=True) and len(list(maps.glob("*.png"))) == 4
    before = out.read_bytes()
    fails(["score", "--checkpoint", str(ckpt), "--input", str(same_size), "--out", str(out)], capsys, "already exists")
    assert out.read_bytes() == before
    fails(["score", "--checkpoint", str(ckpt), "--input", str(same_size), "--out", str(tmp_path / "s.txt")],
          capsys, "must end in .csv or .json")
    fails(["score", "--checkpoint", str(ckpt), "--input", str(same_size), "--out", str(tmp_path / "x.csv"),
           "--sort", "llr"], capsys, "needs --reference")
    fails(["score", "--checkpoint", str(ckpt), "--input", str(tmp_path / "nope"), "--out", str(tmp_path / "y.csv")],
          capsys, "does not exist")


def test_impossible_likelihood_is_an_error(tmp_path, same_size, capsys):
    model = tiny("pixelcnn", "small", 8)
    with torch.no_grad():
        next(model.output_layer().parameters()).fill_(float("nan"))
    model.save(str(tmp_path / "broken"))
    out = tmp_path / "s.csv"
    fails(["score", "--checkpoint", str(tmp_path / "broken"), "--input", str(same_size), "--out", str(out)],
          capsys, "impossible NLL")
    assert not out.exists()


def test_inputs_of_another_kind_are_refused(ckpt, tmp_path, capsys):
    rng = np.random.default_rng(5)
    gray, floats, junk = tmp_path / "gray.npz", tmp_path / "floats.npz", tmp_path / "junk.png"
    np.savez(gray, images=rng.integers(0, 256, (2, 8, 8, 1), dtype=np.uint8))
    np.savez(floats, images=rng.random((2, 8, 8, 3)))
    junk.write_bytes(b"not a png")
    other = tmp_path / "other"
    tiny("pixelcnn", "small", 4).save(str(other))
    out = str(tmp_path / "s.csv")
    base = ["score", "--checkpoint", str(ckpt), "--out", out, "--input"]
    fails([*base, str(gray)], capsys, "1-channel images")
    fails([*base, str(floats)], capsys, "float64")
    fails([*base, str(junk)], capsys, "junk.png")
    fails([*base, str(gray), "--reference", str(other)], capsys, "--reference")
