"""The quick start end to end, briefly (slow: about a minute; run by ``make test-slow``)."""
from __future__ import annotations

import json

import pytest

from pixelar.quickstart import run_quickstart


@pytest.mark.slow
def test_quickstart_writes_its_figures_and_grids(tmp_path):
    summary = run_quickstart(tmp_path / "qs", minutes=0.1, progress=False, num_samples=2, num_completions=2)
    out = tmp_path / "qs"
    for name in ("samples.png", "completions.png", "learning_curve.png", "metrics.jsonl", "quickstart.json"):
        assert (out / name).exists(), name
    assert json.loads((out / "quickstart.json").read_text())["test_patches"] == 602
    assert 0 < summary["png_bits_per_dim"] < 8 and 0 < summary["webp_lossless_bits_per_dim"] < 8
    again = run_quickstart(tmp_path / "qs", minutes=0.05, progress=False, num_samples=1, num_completions=1)
    assert again["out"].endswith("qs-2")          # an earlier run is never overwritten
