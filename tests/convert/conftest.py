"""The pclucas14/pixel-cnn-pp port, imported at test time from ../shared/peer_bench/pcl.

Nothing of the port is copied into pixelar: ``pixelar.convert.import_port`` imports the checkout
with two Python-3/CPU edits applied in a scratch folder. Set PIXELAR_PCL_DIR to use another
checkout; tests skip where it is absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from pixelar.convert import import_port

WORK = Path(__file__).resolve().parents[3]
PCL_DIR = Path(os.environ.get("PIXELAR_PCL_DIR", WORK / "shared" / "peer_bench" / "pcl"))


@pytest.fixture(scope="session")
def pcl(tmp_path_factory):
    if not (PCL_DIR / "model.py").exists():
        pytest.skip(f"the pixel-cnn-pp port is not at {PCL_DIR} (set PIXELAR_PCL_DIR to a checkout of "
                    "pclucas14/pixel-cnn-pp to run these tests)")
    return import_port(PCL_DIR, tmp_path_factory.mktemp("pcl"))
