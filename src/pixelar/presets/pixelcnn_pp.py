"""PixelCNN++ (Salimans et al. 2017): the CIFAR-10 model, its class-conditional version, a small one
for 2 CPU cores, and Table 2's "Small PixelCNN" receptive-field experiment."""
from __future__ import annotations

import dataclasses
import functools

from ..models.pixelcnn_pp import PixelCNNPlusPlus, PixelCNNPlusPlusConfig
from ..training.config import TrainConfig
from . import Preset, declare, preset


@preset(default=True)
def pixelcnn_pp_cifar10() -> Preset:
    """The paper's text, §3.1: 6 blocks of 5 gated ResNets, "All residual layers use 192 feature maps
    and a dropout rate of 0.5" (paper: 2.92 bits/dim). The mixture count (10) and the recipe (Adamax
    lr 1e-3 decayed by 0.999995 per step, Polyak averaging 0.9995, batch 16 per device) are the
    released code's: the text is silent on them."""
    return dataclasses.replace(
        pixelcnn_pp_cifar10_released(), model=dataclasses.replace(pixelcnn_pp_cifar10_released().model, num_filters=192),
        description="PixelCNN++ CIFAR-10 as the paper's text: 6 blocks x 5 gated ResNets, 192 filters, dropout 0.5")


@preset
def pixelcnn_pp_cifar10_released() -> Preset:
    """The configuration of the authors' released code (openai/pixel-cnn: nr_resnet=5, nr_filters=160,
    nr_logistic_mix=10) that most reimplementations and published checkpoints use."""
    return Preset(model_class=PixelCNNPlusPlus,
                  model=PixelCNNPlusPlusConfig(image_channels=3, image_size=32, num_filters=160, num_resnet=5,
                                               num_mixtures=10, dropout=0.5),
                  train=TrainConfig(optimizer="adamax", lr=1e-3, lr_decay=0.999995, betas=(0.95, 0.9995),
                                    ema=0.9995, batch_size=16),
                  dataset="cifar10",
                  description="PixelCNN++ CIFAR-10 as the released code: 6 blocks x 5 gated ResNets, 160 filters, "
                              "10 logistics, dropout 0.5")


@preset
def pixelcnn_pp_cifar10_class() -> Preset:
    """The class-conditional CIFAR-10 model: one-hot label -> per-layer bias."""
    p = pixelcnn_pp_cifar10()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, num_classes=10),
                               description="PixelCNN++ CIFAR-10 conditioned on the 10 classes")


@preset
def pixelcnn_pp_cifar10_no_shortcuts() -> Preset:
    """§3.4.3 ablation: the paper's CIFAR-10 model "but remove the short-cut connections from the
    model" (the long block k -> block 7-k connections of Figure 2); paper: "the model fails to
    train" (Figure 7)."""
    p = pixelcnn_pp_cifar10()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, shortcuts=False),
                               description="PixelCNN++ CIFAR-10 without the up->down short-cut connections "
                                           "(§3.4.3 ablation)")


@preset
def pixelcnn_pp_receptive_field() -> Preset:
    """PixelSNAIL §3.1, Figure 7: "the same experiment on PixelCNN++ (Salimans et al., 2017) with
    identical number of resnet blocks" as the 7-block Gated PixelCNN of Figure 6, at pixel (15, 15) at
    random init. Text silent on how 7 blocks map onto the six-block network: one gated ResNet per
    block (num_resnet=1; blocks 5 and 6 get their extra one, so 8 per stream), the nearest the
    network's three resolutions and short-cuts allow; widths as ``cifar10`` (our choice).
    ``pixelar receptive-field --figure 7 --out fig7.png``."""
    p = pixelcnn_pp_cifar10()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, num_resnet=1),
                               description="PixelSNAIL Fig. 7 receptive-field model: PixelCNN++ with 1 gated "
                                           "ResNet per block, 192 filters")


@preset
def pixelcnn_pp_small() -> Preset:
    """A PixelCNN++ for 2 CPU cores: 2 ResNets per block, 32 filters, 5 logistics."""
    return Preset(model_class=PixelCNNPlusPlus,
                  model=PixelCNNPlusPlusConfig(image_channels=3, image_size=32, num_filters=32, num_resnet=2,
                                               num_mixtures=5, dropout=0.0),
                  train=TrainConfig(optimizer="adamax", lr=2e-3, lr_decay=0.9995, betas=(0.95, 0.9995),
                                    ema=0.99, batch_size=16),
                  dataset="cifar10", description="small PixelCNN++ for 2 CPU cores")


TABLE2_VARIANTS = ("plain", "nin", "ar_channel")


def pixelcnn_pp_table2(width: int, height: int, variant: str) -> Preset:
    """PixelCNN++ Table 2 "Small PixelCNN": a width × height causal window at full resolution.

    The window is the paper's: width columns × height rows above the pixel plus (width-1)/2
    pixels to its left (11x5: 5 rows + 5 left; 15x8: 8 rows + 7 left). ``plain``: PixelCNN++'s
    first layer and gated ResNets, no down-sampling (2 per stream for 11x5, 3 for 15x8); ``nin``:
    "3 NIN blocks between every other layer" (3 1×1 gated ResNets between consecutive
    window-growing blocks); ``ar_channel``: plain with the Autoregressive Channel block ("skip
    connections between sets of channels via 1x1 convolution gated ResNet block") and one mixture
    per sub-pixel (channel_logistic_mixture). See models/pixelcnn_pp_small.py. Widths and the
    training recipe as ``cifar10_released`` (text silent on the small models' widths and recipe:
    160 filters is pixelar's choice).
    """
    if variant not in TABLE2_VARIANTS:
        raise ValueError(f"variant must be one of {TABLE2_VARIANTS}, got {variant!r}")
    p = pixelcnn_pp_cifar10_released()
    model = dataclasses.replace(
        p.model, receptive_width=width, receptive_height=height, num_nin=3 if variant == "nin" else 0,
        distribution="channel_logistic_mixture" if variant == "ar_channel" else "logistic_mixture")
    label = {"plain": "Plain", "nin": "NIN", "ar_channel": "Autoregressive Channel"}[variant]
    return dataclasses.replace(p, model=model,
                               description=f"PixelCNN++ Table 2 small PixelCNN, {width}x{height} window, {label}")


for _w, _h in ((11, 5), (15, 8)):
    for _v in TABLE2_VARIANTS:
        declare(functools.partial(pixelcnn_pp_table2, width=_w, height=_h, variant=_v), f"table2_{_w}x{_h}_{_v}")
