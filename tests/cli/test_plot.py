"""``pixelar plot RUN...``: overlays of several runs, and one-line errors for what cannot be plotted."""
from __future__ import annotations

from PIL import Image

from pixelar.cli import main
from pixelar.commands.plot import _names
from tests.evaluation.test_plots import metric_rows, write_rows


def runs(tmp_path):
    a = write_rows(tmp_path / "runs" / "a" / "metrics.jsonl", metric_rows("both")).parent
    b = write_rows(tmp_path / "runs" / "b" / "metrics.jsonl", metric_rows("none", both_weights=False)).parent
    return a, b


def one_line_error(capsys, *pieces):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pixelar plot: error: "), err
    for piece in pieces:
        assert piece in err, err


def test_overlay_of_two_runs_with_and_without_times(tmp_path, capsys):
    a, b = runs(tmp_path)
    out = tmp_path / "plot.png"
    assert main(["plot", "--log", str(a), str(b / "metrics.jsonl"), "--out", str(out)]) == 0
    assert "test_bpd of 2 runs against training step" in capsys.readouterr().out
    with Image.open(out) as img:
        assert 700 < img.size[0] < 1100 and 400 < img.size[1] < 700
    before = out.read_bytes()
    assert main(["plot", str(a), "--out", str(out)]) == 2                   # never overwrites unasked
    one_line_error(capsys, "already exists", "--force")
    assert out.read_bytes() == before
    assert main(["plot", str(a), "--out", str(out), "--force", "--x", "time", "--metric", "train_bpd",
                 "--log", "--log-x", "--title", "mine"]) == 0
    assert "train_bpd of 1 run against training wall time" in capsys.readouterr().out


def test_wall_time_needs_times_in_every_run(tmp_path, capsys):
    a, b = runs(tmp_path)
    assert main(["plot", str(a), str(b), "--x", "time", "--out", str(tmp_path / "t.png")]) == 2
    one_line_error(capsys, "b/metrics.jsonl", "no wall-clock times", "--x steps")
    assert not (tmp_path / "t.png").exists()


def test_missing_empty_and_metric_less_runs_are_refused_in_one_line(tmp_path, capsys):
    out = str(tmp_path / "p.png")
    assert main(["plot", str(tmp_path / "nowhere"), "--out", out]) == 2
    one_line_error(capsys, "nowhere", "no such run directory")
    (tmp_path / "fresh").mkdir()
    assert main(["plot", str(tmp_path / "fresh"), "--out", out]) == 2
    one_line_error(capsys, "no metrics.jsonl in that directory")
    write_rows(tmp_path / "empty" / "metrics.jsonl", [], extra='{"step": 3, "tra')   # a cut line only
    assert main(["plot", str(tmp_path / "empty"), "--out", out]) == 2
    one_line_error(capsys, "is empty")
    train_only = [r for r in metric_rows() if "train_bpd" in r]
    write_rows(tmp_path / "noeval" / "metrics.jsonl", train_only)
    assert main(["plot", str(tmp_path / "noeval"), "--out", out]) == 2
    one_line_error(capsys, "no test_bpd rows", "--metric train_bpd")
    assert main(["plot", str(tmp_path / "noeval"), "--out", out, "--metric", "train_bpd"]) == 0
    assert not list(tmp_path.rglob(".*.tmp"))


def test_runs_with_one_name_are_told_apart_by_their_paths(tmp_path):
    paths = [tmp_path / "x" / "run" / "metrics.jsonl", tmp_path / "y" / "run" / "metrics.jsonl",
             tmp_path / "z" / "metrics.jsonl"]
    assert _names(paths) == [str(paths[0].parent), str(paths[1].parent), "z"]
