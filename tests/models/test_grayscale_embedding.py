"""The Grayscale PixelCNN's f_w (Kolesnikov & Lampert §3.3): "almost identical to the architecture of
PixelCNN++ ... we use only one flow of residual blocks and do not shift the convolutional layers outputs"."""
from __future__ import annotations

import pytest
import torch

import pixelar
from pixelar import config as config_lib
from pixelar.evaluation.causality import find_leaks
from pixelar.models.auxiliary import AuxEmbedding, PixelCNNPlusPlusEmbedding
from pixelar.models.grayscale_pixelcnn import GrayscalePixelCNNConfig

TINY = dict(image_size=8, num_filters=8, num_resnet=1, embedding_filters=8, embedding_resnet=2, num_mixtures=2)


def _model(**over):
    torch.manual_seed(0)
    return pixelar.build("grayscale_pixelcnn", "cifar10", **{**TINY, **over})


def test_the_paper_presets_use_the_pixelcnn_pp_embedding():
    for preset in ("cifar10", "celeba32", "celeba128"):
        assert pixelar.registry.get_preset("grayscale_pixelcnn", preset).model.embedding_structure == "pixelcnn_pp"
    assert isinstance(_model().embedding, PixelCNNPlusPlusEmbedding)
    assert isinstance(_model(embedding_structure="single_resolution").embedding, AuxEmbedding)


def test_embedding_has_pixelcnn_pp_blocks_resolutions_and_short_cuts():
    emb = _model().embedding.eval()
    R = 2
    assert [len(b) for b in emb.up] == [R, R, R] and [len(b) for b in emb.dn] == [R, R + 1, R + 1]
    assert all(layer.skip is not None for b in emb.dn for layer in b)       # every decoder layer: a short-cut
    sizes = []
    for block in list(emb.up) + list(emb.dn):
        block[0].register_forward_hook(lambda m, a, o: sizes.append(o.shape[-1]))
    y = torch.randn(1, 1, 8, 8, requires_grad=True)
    out = emb(y)
    assert out.shape == (1, 8, 8, 8) and sizes == [8, 4, 2, 2, 4, 8]
    # unshifted: the top-left output reads inputs below and to the right of it (all of ŷ is given)
    out[0, :, 0, 0].sum().backward()
    assert y.grad[0, 0, 7, 7] != 0 and y.grad[0, 0, 0, 0] != 0


def test_the_model_with_it_is_causal_and_round_trips(tmp_path):
    model = _model(image_size=4)
    assert find_leaks(model) == []
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    model.eval().save(tmp_path / "m")
    assert torch.equal(pixelar.load(tmp_path / "m").log_prob(x), model.log_prob(x))


def test_configs_written_before_the_field_load_as_the_single_resolution_model(tmp_path):
    d = config_lib.to_dict(GrayscalePixelCNNConfig(**TINY))
    del d["embedding_structure"]
    assert config_lib.from_dict(GrayscalePixelCNNConfig, d).embedding_structure == "single_resolution"
    old = _model(embedding_structure="single_resolution").eval()
    old.save(tmp_path / "old")
    meta = tmp_path / "old" / "config.json"
    import json
    raw = json.loads(meta.read_text())
    del raw["config"]["embedding_structure"]
    meta.write_text(json.dumps(raw))
    x = torch.randint(0, 256, (1, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(pixelar.load(tmp_path / "old").log_prob(x), old.log_prob(x))
    with pytest.raises(pixelar.ConfigError, match="lacks"):
        del d["dropout"]                                           # any other missing field stays an error
        config_lib.from_dict(GrayscalePixelCNNConfig, d)
