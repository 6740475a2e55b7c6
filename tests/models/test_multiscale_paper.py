"""The multiscale PixelCNN's paper-size settings (Reed et al. §4.1, §4.2, §4.4): the recipe, the 3-convolution
char-CNN over 201-character captions, separate text encoders above 32x32, the 12-layer spatial ResNet."""
from __future__ import annotations

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import find_leaks
from pixelar.nn.text import CharCNNGRU, encode_text
from pixelar.presets.multiscale_pixelcnn import PAPER_STEPS

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"base_hidden": 6, "base_layers": 2, "base_output_features": 8, "hidden": 6, "num_resnet": 1, "num_pixelcnn": 2,
             "spatial_resnet": 2, "cond_dim": 8}


@pytest.mark.parametrize("preset", ["imagenet_class", "imagenet128_class", "cub", "mpii", "coco"])
def test_paper_presets_use_the_recipe_and_gated_pixelcnns(preset):
    p = pixelar.registry.get_preset("multiscale_pixelcnn", preset)
    t = p.train
    assert (t.optimizer, t.rmsprop_eps, t.batch_size, t.lr) == ("rmsprop", 1e-8, 128, 1e-4)
    assert t.lr_at(PAPER_STEPS) == pytest.approx(1e-5) and PAPER_STEPS == 200_000
    m = p.model
    assert m.pixelcnn == "gated" and m.upscaler == "B" and (m.num_resnet, m.num_pixelcnn) == (12, 4)
    if preset.startswith("imagenet"):
        assert (m.hidden, m.base_size, m.num_classes) == (256, 8, 1000)
    else:
        assert (m.hidden, m.base_size, m.image_size) == (128, 4, 256)
        assert (m.text_conv, m.text_length, m.text_shared_up_to, m.spatial_resnet) == (3, 201, 32, 12)
        assert m.spatial_channels == {"cub": 15, "mpii": 17, "coco": 80}[preset]
        assert m.spatial_resize == "bilinear"
    assert pixelar.registry.get_preset("multiscale_pixelcnn", "imagenet128_class").model.sizes()[-1] == 128


def test_padding_a_caption_to_201_characters_leaves_its_vector_unchanged():
    torch.manual_seed(0)
    enc = CharCNNGRU(128, 8, 8, num_conv=3)
    assert len(enc.convs) == 3
    short = encode_text(["a small red bird"], 128)
    padded = encode_text(["a small red bird"], 128, length=201)
    assert padded.shape == (1, 201) and torch.equal(padded[:, :short.shape[1]], short)
    assert torch.allclose(enc(short), enc(padded), atol=1e-6)


def test_upscalers_above_32_have_their_own_text_encoder():
    torch.manual_seed(0)
    model = pixelar.build("multiscale_pixelcnn", "small", image_size=64, base_size=4, text_vocab=32, text_conv=3,
                          text_length=201, text_shared_up_to=32, **SMALL)
    assert model.own_text_scales == [4] and len(model.scale_text_encoders) == 1      # sizes 4, 8, 16, 32, 64
    enc = model.encode({"text": ["a bird"]}, 1, torch.device("cpu"))
    assert enc.vec_at(3) is enc.vec and not torch.allclose(enc.vec_at(4), enc.vec)
    # the 64x64 upscalers read only the separate encoder: zeroing the shared one leaves them unchanged
    x = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        before = model(x, {"text": ["a bird"]})
        for p in model.text_encoder.parameters():
            p.zero_()
        after = model(x, {"text": ["a bird"]})
    top = model.scale_masks()["64x64"]
    assert torch.equal(before[..., top], after[..., top]) and not torch.equal(before, after)


def test_spatial_resnet_encodes_the_map_and_keeps_causality():
    torch.manual_seed(0)
    model = pixelar.build("multiscale_pixelcnn", "small", image_size=8, base_size=2, image_channels=1,
                          distribution="categorical", num_levels=4, patch_size=2, spatial_channels=3,
                          text_vocab=16, **SMALL)
    assert model.spatial_encoder is not None and len(model.spatial_encoder.resnet.layers) == 2
    enc = model.encode({"spatial": torch.rand(2, 3, 8, 8)}, 2, torch.device("cpu"))
    assert enc.spatial.shape == (2, 6, 8, 8)                       # the encoder's features, width ``hidden``
    assert find_leaks(model) == []
    x = torch.randint(0, 4, (2, 1, 8, 8), dtype=torch.uint8)
    m = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(model(x, {"spatial": m}), model(x, {"spatial": 1 - m}))


def test_spatial_features_reach_every_scale_by_bilinear_interpolation():
    """§4.2: the features are "resized with bilinear interpolation to the spatial size of the image";
    ``area_bilinear`` (pixelar's earlier resize, the field's default) averages when shrinking."""
    import torch.nn.functional as F

    from pixelar.models.multiscale_cond import resize_map
    m = torch.zeros(1, 1, 32, 32)
    m[0, 0, 9, 21] = 1.0                                      # one visible keypoint
    for size in (4, 8, 16, 64):
        bilinear = F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False)
        assert torch.equal(resize_map(m, size, "bilinear"), bilinear)
    assert torch.allclose(resize_map(m, 4), F.interpolate(m, size=(4, 4), mode="area"))
    assert not torch.allclose(resize_map(m, 4, "bilinear"), resize_map(m, 4))
    kw = dict(image_size=8, base_size=2, image_channels=1, distribution="categorical", num_levels=4, patch_size=2,
              spatial_channels=1, **{**SMALL, "spatial_resnet": 0})
    torch.manual_seed(0)
    area = pixelar.build("multiscale_pixelcnn", "small", **kw).eval()
    torch.manual_seed(0)
    bil = pixelar.build("multiscale_pixelcnn", "small", spatial_resize="bilinear", **kw).eval()
    assert find_leaks(bil) == []                               # with a random map (random_condition)
    cond = {"spatial": torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))}
    x = torch.randint(0, 4, (2, 1, 8, 8), dtype=torch.uint8)
    with torch.no_grad():
        assert not torch.allclose(area.log_prob(x, cond), bil.log_prob(x, cond))   # the option is wired
    with pytest.raises(pixelar.ConfigError):
        pixelar.build("multiscale_pixelcnn", "small", spatial_resize="nearest")
