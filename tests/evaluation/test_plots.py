"""Figures: the learning-curve data split into series, and the PNGs of curves and maps (with and
without matplotlib, with and without time fields in the metrics)."""
from __future__ import annotations

import json
import sys

import pytest
import torch
from PIL import Image

from pixelar.errors import PixelarError
from pixelar.evaluation.nll_map import write_nll_map
from pixelar.evaluation.plots import (
    curve_series,
    learning_curve_png,
    overlay_png,
    read_metrics,
    row_seconds,
)
from pixelar.evaluation.receptive_field import (
    receptive_field,
    render,
    write_receptive_field,
)
from tests.conftest import random_dataset, tiny

T0 = 1.7e9


def metric_rows(timed: str = "both", both_weights: bool = True) -> list[dict]:
    """Train rows every 2 steps, EMA (and raw) evaluations every 4; ``timed``: "both" (time and
    elapsed_s on train rows, time only on eval rows), "time", or "none"."""
    rows = []
    for step in range(2, 13, 2):
        r = {"step": step, "epoch": 0, "train_bpd": 8.0 - step / 4, "lr": 1e-3}
        if timed in ("both", "time"):
            r["time"] = T0 + 10 * step
        if timed == "both":
            r["elapsed_s"] = 5.0 * step
        rows.append(r)
        if step % 4 == 0:
            for weights, bpd in (("ema", 7.0 - step / 5), ("raw", 7.5 - step / 5))[:1 + both_weights]:
                e = {"step": step, "weights": weights, "test_bpd": bpd}
                if timed in ("both", "time"):
                    e["time"] = T0 + 10 * step + 1
                rows.append(e)
    return rows


def write_rows(path, rows, extra: str = ""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + extra)
    return path


def size_of(path):
    with Image.open(path) as img:
        return img.size


def test_series_split_train_and_the_ema_and_raw_evaluations():
    rows = metric_rows("none")
    rows.insert(3, {"step": 5, "train_bpd": float("nan")})     # an empty log window: dropped
    rows.append({"step": 12, "test_bpd": 6.5})                 # an older eval row: no "weights"
    series = curve_series(rows)
    assert [(s.metric, s.weights, s.label) for s in series] == [
        ("train_bpd", None, "train"), ("test_bpd", None, "test"),
        ("test_bpd", "ema", "test (EMA)"), ("test_bpd", "raw", "test (raw)")]
    train, _, ema, raw = series
    assert train.steps == (2, 4, 6, 8, 10, 12) and train.bpd[0] == 7.5 and train.elapsed_s is None
    assert ema.steps == (4, 8, 12) and ema.bpd == pytest.approx((6.2, 5.4, 4.6))
    assert raw.bpd == pytest.approx((6.7, 5.9, 5.1))
    assert [s.metric for s in curve_series(rows, ["test_bpd"])] == ["test_bpd"] * 3


def test_times_elapsed_first_one_clock_per_file_eval_rows_interpolated():
    # elapsed_s on train rows only: eval rows take the train clock at their step, never "time".
    both = curve_series(metric_rows("both"))
    assert both[0].elapsed_s == (10.0, 20.0, 30.0, 40.0, 50.0, 60.0)
    assert both[1].elapsed_s == (20.0, 40.0, 60.0)
    # time only: seconds since the first row
    secs = row_seconds(metric_rows("time"))
    assert secs[0] == 0.0 and secs[1] == 20.0 and secs[2] == 21.0
    assert row_seconds(metric_rows("none")) == [None] * len(metric_rows("none"))


def test_read_metrics_skips_a_cut_line(tmp_path):
    p = write_rows(tmp_path / "run" / "metrics.jsonl", metric_rows(), extra='{"step": 14, "train_b')
    assert len(read_metrics(p)) == len(metric_rows()) and read_metrics(tmp_path / "none.jsonl") == []


@pytest.mark.parametrize("timed, panels", [("both", 2), ("time", 2), ("none", 1)])
def test_learning_curve_has_a_wall_time_panel_when_rows_carry_time(tmp_path, timed, panels):
    p = write_rows(tmp_path / "run" / "metrics.jsonl", metric_rows(timed))
    out = learning_curve_png(p, tmp_path / "run" / "learning_curve.png", log="y" if panels == 1 else None)
    w, h = size_of(out)
    assert 300 < h < 700 and (550 < w < 900 if panels == 1 else 1200 < w < 1700)
    learning_curve_png(p, out, log="xy")                        # the trainer redraws over its own file
    assert out.stat().st_size > 10_000


def test_learning_curve_of_a_run_without_metrics_yet_and_a_bad_log(tmp_path):
    out = learning_curve_png(tmp_path / "metrics.jsonl", tmp_path / "lc.png")
    assert out.stat().st_size > 0
    with pytest.raises(PixelarError, match="log scale"):
        learning_curve_png(tmp_path / "metrics.jsonl", tmp_path / "lc.png", log="z")


def test_overlay_refuses_to_overwrite(tmp_path):
    runs = [("a", curve_series(metric_rows("both"), ["test_bpd"])),
            ("b", curve_series(metric_rows("none", both_weights=False), ["test_bpd"]))]
    out = overlay_png(runs, tmp_path / "o.png", log="y")
    w, h = size_of(out)
    assert 700 < w < 1100 and 400 < h < 700
    with pytest.raises(PixelarError, match="already exists"):
        overlay_png(runs, out)
    overlay_png([runs[0]], out, x="time", force=True)


def test_nll_map_figure(tmp_path):
    model = tiny("gated_pixelcnn", "small", 8)
    data = random_dataset(3, size=8)
    write_nll_map(model, data, tmp_path / "two.png", num_images=2)
    write_nll_map(model, data, tmp_path / "one.png", num_images=1)
    (w2, h2), (w1, h1) = size_of(tmp_path / "two.png"), size_of(tmp_path / "one.png")
    assert 600 < w2 < 1400 and 250 < h2 < 700 and 500 < w1 < w2 and 200 < h1 < 700
    with pytest.raises(PixelarError, match="already exists"):
        write_nll_map(model, data, tmp_path / "one.png", num_images=1)


def test_receptive_field_figure_shows_the_input_beside_the_map(tmp_path):
    model = tiny("pixelcnn", "small", 8)
    rf = receptive_field(model, 4, 3)
    assert rf.image.shape == (3, 8, 8) and rf.image.dtype == torch.uint8
    w2, h2 = size_of(write_receptive_field(rf, tmp_path / "rf.png", title="pixelcnn at random init"))
    first = receptive_field(model, 0, 0)                                      # no context, all zero
    bare = type(first)(first.magnitude, first.context, first.pixel, first.threshold)   # no image: map only
    w1, _ = size_of(write_receptive_field(bare, tmp_path / "map.png"))
    assert 500 < w2 < 1000 and 300 < h2 < 700 and 300 < w1 < w2 - 150


def test_without_matplotlib_plain_figures_and_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)             # import fails
    p = write_rows(tmp_path / "run" / "metrics.jsonl", metric_rows())
    with pytest.warns(UserWarning, match=r"pixelar\[demo\]"):
        out = learning_curve_png(p, tmp_path / "run" / "learning_curve.png")
    assert size_of(out) == (640, 400)
    rf = receptive_field(tiny("pixelcnn", "small", 8), 4, 3)
    with pytest.warns(UserWarning):
        assert size_of(write_receptive_field(rf, tmp_path / "rf.png", scale=4)) == render(rf, scale=4).size
    with pytest.warns(UserWarning):
        write_nll_map(tiny("gated_pixelcnn", "small", 8), random_dataset(2, size=8), tmp_path / "n.png",
                      num_images=2, scale=2)
    assert size_of(tmp_path / "n.png") == (2 * 16 + 12, 2 * (16 + 18) + 18)
    with pytest.raises(PixelarError, match=r"pip install 'pixelar\[demo\]'"):
        overlay_png([("a", curve_series(metric_rows()))], tmp_path / "o.png")
