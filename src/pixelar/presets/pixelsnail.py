"""PixelSNAIL (Chen et al. 2018)."""
from __future__ import annotations

import dataclasses

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
    """ImageNet 32x32: as CIFAR-10 with 32 logistics ("10 mixture components for CIFAR-10 and 32 for
    ImageNet"), no dropout ("We did not use any dropout for ImageNet"), Polyak 0.9997 (paper: 3.80
    bits/dim). Text silent on the optimizer: Adam lr 1e-3 as the public code's ImageNet command
    (``--learning_rate=0.001``; this preset had 1e-4 before), batch 8 per device."""
    return Preset(model_class=PixelSNAIL,
                  model=PixelSNAILConfig(image_channels=3, image_size=32, num_filters=256, num_blocks=12,
                                         num_resnet=4, num_mixtures=32, dropout=0.0),
                  train=TrainConfig(optimizer="adam", lr=1e-3, lr_decay=0.999995, betas=(0.95, 0.9995),
                                    ema=0.9997, batch_size=8),
                  dataset="imagenet32_npz",
                  description="PixelSNAIL ImageNet 32x32: 12 x (4 gated ResNets + causal attention), 32 logistics")


@preset
def pixelsnail_imagenet64() -> Preset:
    """ImageNet 64x64, the paper's 3.52 bits/dim model: "We used 12 blocks for both datasets" (the
    ImageNet model serves both resolutions), 256 filters, keys 16 / values 128, 32 logistics, no
    dropout, Polyak 0.9997: the ImageNet 32x32 preset at 64x64. Attention over all 4096 positions
    (a 4096x4096 score map per image and attention block). Text silent on the recipe: as imagenet32."""
    p = pixelsnail_imagenet32()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, image_size=64), dataset="imagenet64_npz",
                               description="PixelSNAIL ImageNet 64x64: 12 x (4 gated ResNets + causal "
                                           "attention), 32 logistics")


@preset
def pixelsnail_receptive_field() -> Preset:
    """The §3.1 receptive-field model (Figure 8): "a PixelSNAIL with 7 blocks (4 shift-based
    convolutions and 3 attention blocks)", i.e. 4 residual blocks interleaved with 3 attention
    blocks, examined at pixel (15, 15) of a 32x32 image at random init (threshold 0.001). Text
    silent on its widths: the CIFAR-10 model's (256 filters, 4 gated ResNets per residual block).
    ``pixelar receptive-field --figure 8`` (``--figure 9``: the same in zigzag order, Figure 9)."""
    p = pixelsnail_cifar10()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, num_blocks=4, final_attention=False),
                               description="PixelSNAIL receptive-field model of Figs. 8-9: 4 residual + 3 "
                                           "attention blocks")


@preset
def pixelsnail_small() -> Preset:
    """A PixelSNAIL for 2 CPU cores: 2 blocks of 2 gated ResNets, 32 filters, 5 logistics."""
    return Preset(model_class=PixelSNAIL,
                  model=PixelSNAILConfig(image_channels=3, image_size=32, num_filters=32, num_blocks=2,
                                         num_resnet=2, num_mixtures=5, dropout=0.0),
                  train=TrainConfig(optimizer="adam", lr=2e-3, lr_decay=0.9995, betas=(0.95, 0.9995),
                                    ema=0.99, batch_size=16),
                  dataset="cifar10", description="small PixelSNAIL for 2 CPU cores")
