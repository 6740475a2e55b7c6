"""The parallel multiscale PixelCNN (Reed et al. 2017)."""
from __future__ import annotations

import dataclasses

from ..models.multiscale_pixelcnn import MultiscalePixelCNN, MultiscalePixelCNNConfig
from ..training.config import TrainConfig
from . import Preset, preset


@preset(default=True)
def multiscale_pixelcnn_small() -> Preset:
    """Unconditional 32×32: a 4×4 base PixelCNN, then type-B upscalers (2 ResNet + 2 PixelCNN layers,
    32 units, 4×4 patches) for 8, 16 and 32, logistic mixture output; trains on 2 CPU cores."""
    return Preset(model_class=MultiscalePixelCNN,
                  model=MultiscalePixelCNNConfig(image_channels=3, image_size=32, base_size=4, base_hidden=32,
                                                 base_layers=4, base_output_features=64, upscaler="B", hidden=32,
                                                 num_resnet=2, num_pixelcnn=2, patch_size=4,
                                                 distribution="logistic_mixture", num_mixtures=5),
                  train=TrainConfig(optimizer="adam", lr=2e-3, lr_decay=0.999, ema=0.99, batch_size=16),
                  dataset="cifar10", description="small multiscale PixelCNN (4x4 base, type B upscalers) for 2 CPU cores")


@preset
def multiscale_pixelcnn_class_small() -> Preset:
    """The small model conditioned on 10 classes (every factor gets the class embedding)."""
    p = multiscale_pixelcnn_small()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, num_classes=10),
                               description="small class-conditional multiscale PixelCNN (10 classes)")


@preset
def multiscale_pixelcnn_spatial_small() -> Preset:
    """The small model conditioned on a one-channel spatial map (keypoint heat map or mask, §4.1),
    resized to every scale: data sets carry it as ``spatial`` (N, 1, h, w) float maps (an npz's
    ``{split}_spatial`` array); through the Python API pass cond={"spatial": (N, 1, h, w)}."""
    p = multiscale_pixelcnn_small()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, spatial_channels=1), dataset=None,
                               description="small multiscale PixelCNN conditioned on a 1-channel spatial map")


@preset
def multiscale_pixelcnn_text_small() -> Preset:
    """The small model conditioned on captions (char-CNN + GRU, average pooling over time, §4.2):
    data sets carry them as ``caption`` strings (an npz's ``{split}_captions`` array); through the
    Python API pass cond={"text": ["a caption", ...]}."""
    p = multiscale_pixelcnn_small()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, text_vocab=128), dataset=None,
                               description="small multiscale PixelCNN conditioned on character-level captions")


@preset
def multiscale_pixelcnn_imagenet_class() -> Preset:
    """§4.4 layout: class-conditional ImageNet 64×64 from an 8×8 base; type B upscalers with 12 ResNet
    layers and a 4-layer patch PixelCNN, 256 units, 256-way softmax. (The base PixelCNN's size and the
    optimizer are our choices.)"""
    return Preset(model_class=MultiscalePixelCNN,
                  model=MultiscalePixelCNNConfig(image_channels=3, image_size=64, base_size=8, base_hidden=128,
                                                 base_layers=15, base_output_features=1024, upscaler="B",
                                                 hidden=256, num_resnet=12, num_pixelcnn=4, patch_size=4,
                                                 distribution="categorical", num_classes=1000, cond_dim=256),
                  train=TrainConfig(optimizer="adam", lr=1e-4, batch_size=16), dataset="imagenet64_png",
                  description="Reed et al. §4.4: class-conditional ImageNet 64x64, 8x8 base, type B (12 ResNet + 4 "
                              "PixelCNN layers, 256 units)")
