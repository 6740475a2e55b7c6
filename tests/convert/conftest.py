"""The pclucas14/pixel-cnn-pp port, imported at test time from ../shared/peer_bench/pcl.

Nothing of the port is copied into pixelar. Its published files are Python 2 in one line
(``print e`` in utils.load_part_of_model) and put a tensor on the GPU inside its loss, so they
are copied to a scratch folder with exactly these two edits (as ../shared/peer_bench does) and
imported from there. Set PIXELAR_PCL_DIR to use another checkout; tests skip where it is absent.
"""
from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import pytest

WORK = Path(__file__).resolve().parents[3]
PCL_DIR = Path(os.environ.get("PIXELAR_PCL_DIR", WORK / "shared" / "peer_bench" / "pcl"))


def import_pcl(src: Path, scratch: Path) -> types.SimpleNamespace:
    """Import the port's model.py/utils.py from ``src`` (two CPU/Python-3 edits, in ``scratch``)."""
    for name in ("model.py", "layers.py", "utils.py"):
        text = (src / name).read_text()
        if name == "utils.py":
            text = re.sub(r"print e\b", "print(e)", text)
            text = text.replace("Variable(torch.zeros(xs + [nr_mix]).cuda(), requires_grad=False)",
                                "torch.zeros(xs + [nr_mix], device=x.device)")
        (scratch / name).write_text(text)
    saved = {k: sys.modules.pop(k) for k in ("model", "layers", "utils") if k in sys.modules}
    sys.path.insert(0, str(scratch))
    try:
        import model as pcl_model
        import utils as pcl_utils
    finally:
        sys.path.remove(str(scratch))
        for k in ("model", "layers", "utils"):   # the port's generic names must not shadow others
            sys.modules.pop(k, None)
        sys.modules.update(saved)
    return types.SimpleNamespace(PixelCNN=pcl_model.PixelCNN, loss=pcl_utils.discretized_mix_logistic_loss,
                                 loss_1d=pcl_utils.discretized_mix_logistic_loss_1d,
                                 sample_op=pcl_utils.sample_from_discretized_mix_logistic)


@pytest.fixture(scope="session")
def pcl(tmp_path_factory):
    if not (PCL_DIR / "model.py").exists():
        pytest.skip(f"the pixel-cnn-pp port is not at {PCL_DIR} (set PIXELAR_PCL_DIR to a checkout of "
                    "pclucas14/pixel-cnn-pp to run these tests)")
    return import_pcl(PCL_DIR, tmp_path_factory.mktemp("pcl"))
