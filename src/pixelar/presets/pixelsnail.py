"""PixelSNAIL (Chen et al. 2018)."""
from __future__ import annotations

from ..models.pixelsnail import PixelSNAIL, PixelSNAILConfig
from ..training.config import TrainConfig
from . import Preset, preset


@preset(default=True)
def pixelsnail_cifar10() -> Preset:
    """12 blocks of (4 gated ResNets, 256 filters + attention, keys 16, values 128), 10 logistics,
    dropout 0.5, Polyak 0.9995; Adam lr 1e-3 decayed by 0.999995 per step, betas (0.95, 0.9995)
    as the PixelCNN++ reference training script the paper's code builds on; batch 8 per device
    (paper: 2.85 bits/dim)."""
    return Preset(model_class=PixelSNAIL,
                  model=PixelSNAILConfig(image_channels=3, image_size=32, num_filters=256, num_blocks=12,
                                         num_resnet=4, num_mixtures=10, dropout=0.5),
                  train=TrainConfig(optimizer="adam", lr=1e-3, lr_decay=0.999995, betas=(0.95, 0.9995),
                                    ema=0.9995, batch_size=8),
                  dataset="cifar10",
                  description="PixelSNAIL CIFAR-10: 12 x (4 gated ResNets + causal attention), 256 filters, "
                              "10 logistics")


@preset
def pixelsnail_imagenet32() -> Preset:
    """ImageNet 32x32: as CIFAR-10 with 32 logistics, no dropout, Polyak 0.9997, Adam lr 1e-4
    (paper: 3.80 bits/dim)."""
    return Preset(model_class=PixelSNAIL,
                  model=PixelSNAILConfig(image_channels=3, image_size=32, num_filters=256, num_blocks=12,
                                         num_resnet=4, num_mixtures=32, dropout=0.0),
                  train=TrainConfig(optimizer="adam", lr=1e-4, lr_decay=0.999995, betas=(0.95, 0.9995),
                                    ema=0.9997, batch_size=8),
                  dataset="imagenet32_npz",
                  description="PixelSNAIL ImageNet 32x32: 12 x (4 gated ResNets + causal attention), 32 logistics")


@preset
def pixelsnail_small() -> Preset:
    """A PixelSNAIL for 2 CPU cores: 2 blocks of 2 gated ResNets, 32 filters, 5 logistics."""
    return Preset(model_class=PixelSNAIL,
                  model=PixelSNAILConfig(image_channels=3, image_size=32, num_filters=32, num_blocks=2,
                                         num_resnet=2, num_mixtures=5, dropout=0.0),
                  train=TrainConfig(optimizer="adam", lr=2e-3, lr_decay=0.9995, betas=(0.95, 0.9995),
                                    ema=0.99, batch_size=16),
                  dataset="cifar10", description="small PixelSNAIL for 2 CPU cores")
