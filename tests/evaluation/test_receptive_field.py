"""Receptive-field maps: exact causal context, every registered model, the CLI command."""
from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

import pixelar
from pixelar import config as config_lib
from pixelar.cli import main
from pixelar.evaluation.receptive_field import receptive_field, render
from tests.conftest import all_presets

# One preset per registered model (including models added later), at 8x8 and tiny widths where the
# config has them: the command relies only on the AutoregressiveModel interface.
SMALL_WIDTHS = dict(hidden=12, num_layers=3, output_features=16, num_filters=8, num_resnet=1, num_blocks=2,
                    key_channels=4, value_channels=8)
FIRST_PRESET = sorted({m: p for m, p in reversed(all_presets())}.items())


def _build(name: str, preset: str, **over) -> pixelar.models.base.AutoregressiveModel:
    fields = pixelar.MODELS[name].model_class.config_class.__dataclass_fields__
    widths = {k: v for k, v in SMALL_WIDTHS.items() if k in fields}
    torch.manual_seed(0)
    return pixelar.build(name, preset, image_size=8, **widths, **over)


@pytest.mark.parametrize("name,preset", FIRST_PRESET, ids=[m for m, _ in FIRST_PRESET])
def test_map_is_zero_outside_the_causal_context_for_every_model(name, preset):
    model = _build(name, preset)
    order = model.positions()
    for row, col in (order[len(order) // 2], order[-1]):
        rf = receptive_field(model, row, col)
        assert rf.magnitude.shape == model.image_shape[1:] and rf.outside == 0   # video: a filmstrip
        assert rf.context_size == order.index((row, col))
        assert 0 < rf.covered <= rf.context_size


def test_zigzag_context_and_full_coverage():
    model = _build("pixelsnail", "small", ordering="zigzag")
    ctx = model.causal_context(3, 2)      # bottom-left of block (1, 1): rows 0-1, rows 2-3 cols 0-1, (2, 2), (2, 3)
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[:2] = True
    expected[2:4, :2] = True
    expected[2, 2:4] = True
    assert torch.equal(ctx, expected)
    rf = receptive_field(model, 3, 2)
    assert rf.outside == 0 and rf.fraction == 1.0
    assert model.training                   # restored (eval only inside)
    img = render(rf, scale=4)
    assert img.size == (32, 32)


def test_first_pixel_has_an_empty_context():
    rf = receptive_field(_build("pixelsnail", "small"), 0, 0)
    assert rf.context_size == 0 and rf.fraction == 1.0 and float(rf.magnitude.sum()) == 0.0


def test_cli_writes_the_map_prints_the_fraction_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "rf.png"
    args = ["receptive-field", "--model", "pixelsnail", "--preset", "small", "--set", "num_filters=8",
            "--set", "num_blocks=1", "--image-size", "8", "--pixel", "4", "0", "--out", str(out), "--json"]
    assert main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["context_pixels"] == 32 and r["outside_context_nonzero"] == 0 and 0 < r["fraction"] <= 1
    with Image.open(out) as img:     # the figure: input, map, colour bar, legend (render(): the bare map)
        assert 400 < img.size[0] < 1600 and 250 < img.size[1] < 900
    before = out.read_bytes()
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(args + ["--force", "--seed", "1"]) == 0
    assert main(["receptive-field", "--model", "pixelsnail", "--preset", "small", "--image-size", "8",
                 "--pixel", "8", "0", "--out", str(tmp_path / "x.png")]) == 2
    assert "outside" in capsys.readouterr().err


def test_cli_from_a_checkpoint(tmp_path, capsys):
    model = _build("gated_pixelcnn", "small")
    model.save(tmp_path / "ckpt")
    out = tmp_path / "rf.png"
    assert main(["receptive-field", "--checkpoint", str(tmp_path / "ckpt"), "--pixel", "7", "7",
                 "--out", str(out)]) == 0
    assert "/63 pixels of the causal context" in capsys.readouterr().out and out.exists()
    assert main(["receptive-field", "--checkpoint", str(tmp_path / "ckpt"), "--model", "pixelsnail",
                 "--pixel", "1", "1", "--out", str(tmp_path / "y.png")]) == 2
    assert "not 'pixelsnail'" in capsys.readouterr().err


def test_figure_6_runs_the_papers_gated_pixelcnn_at_pixel_15_15(tmp_path, capsys):
    """PixelSNAIL Fig. 6: "a medium size model with 7 gated resnet blocks and 6M parameters"."""
    assert main(["receptive-field", "--figure", "6", "--out", str(tmp_path / "f6.png"), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["model"], r["figure"], r["pixel"], r["image_size"]) == ("gated_pixelcnn", 6, [15, 15], 32)
    assert r["context_pixels"] == 15 * 32 + 15 and r["outside_context_nonzero"] == 0 and r["threshold"] == 1e-3
    with torch.device("meta"):
        model = pixelar.build("gated_pixelcnn", "receptive_field")
    assert model.config.num_layers == 7 and abs(sum(p.numel() for p in model.parameters()) - 6e6) < 0.4e6


@pytest.mark.parametrize("figure,model,ordering", [(7, "pixelcnn_pp", "raster"), (8, "pixelsnail", "raster"),
                                                   (9, "pixelsnail", "zigzag")])
def test_figures_7_to_9_pick_their_model_ordering_and_pixel(figure, model, ordering):
    from pixelar.cli import _parser
    from pixelar.commands.diagnose import _apply_figure
    args = _parser().parse_args(["receptive-field", "--figure", str(figure), "--out", "x.png"])
    _apply_figure(args)
    assert (args.model, args.preset, list(args.pixel)) == (model, "receptive_field", [15, 15])
    with torch.device("meta"):
        m = pixelar.build(args.model, args.preset, **config_lib.parse_assignments(args.overrides))
    assert m.ordering == ordering and m.config.image_size == 32
    if model == "pixelsnail":         # "7 blocks (4 shift-based convolutions and 3 attention blocks)"
        assert (m.config.num_blocks, m.config.final_attention) == (4, False)
    else:                             # one gated ResNet per block: the smallest six-block PixelCNN++
        assert m.config.num_resnet == 1


def test_figure_refuses_a_model_and_a_pixel_is_needed_without_it(tmp_path, capsys):
    out = str(tmp_path / "x.png")
    assert main(["receptive-field", "--figure", "8", "--model", "pixelsnail", "--out", out]) == 2
    assert "--figure sets the model" in capsys.readouterr().err
    assert main(["receptive-field", "--model", "pixelsnail", "--out", out]) == 2
    assert "--pixel ROW COL" in capsys.readouterr().err
