"""Named paper recipes. Each builder returns a :class:`Preset` that reads as the paper's setup."""
from __future__ import annotations

import dataclasses
from typing import Any

from .models.gated_pixelcnn import GatedPixelCNNConfig
from .models.pixelcnn import PixelCNNConfig
from .models.pixelcnn_pp import PixelCNNPlusPlusConfig
from .models.pixelsnail import PixelSNAILConfig
from .training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Preset:
    model: Any
    train: TrainConfig
    description: str


# ---- PixelCNN (PixelRNN paper, §3.5, Table 1 and §5) ----------------------------------

def pixelcnn_cifar10() -> Preset:
    """PixelRNN Table 1/3: 15 masked layers, h=128, 1024 output features, 256-way softmax, RMSProp."""
    return Preset(PixelCNNConfig(image_channels=3, image_size=32, hidden=128, num_layers=15,
                                 output_features=1024, distribution="categorical"),
                  TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=16),
                  "PixelRNN §3.5 CIFAR-10 PixelCNN: 7x7 mask A + 14 residual 3x3 blocks, h=128, softmax")


def pixelcnn_mnist() -> Preset:
    """PixelRNN Table 4 PixelCNN on binarized MNIST: Bernoulli (sigmoid) output."""
    return Preset(PixelCNNConfig(image_channels=1, image_size=28, num_levels=2, hidden=16, num_layers=7,
                                 output_features=32, distribution="bernoulli"),
                  TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=16),
                  "PixelRNN Table 4 PixelCNN for binarized MNIST (sigmoid output)")


def pixelcnn_small() -> Preset:
    """The quick-start model: a PixelCNN that trains in minutes on 2 CPU cores, with a
    5-component discretized logistic mixture head (one network evaluation per pixel)."""
    return Preset(PixelCNNConfig(image_channels=3, image_size=32, hidden=32, num_layers=6,
                                 output_features=128, distribution="logistic_mixture", num_mixtures=5),
                  TrainConfig(optimizer="adam", lr=2e-3, lr_decay=0.999, ema=0.99, batch_size=16),
                  "small PixelCNN + logistic mixture for 2 CPU cores (quick start)")


# ---- Gated PixelCNN (van den Oord et al. 2016, Conditional Image Generation) ----------

def gated_pixelcnn_cifar10() -> Preset:
    """Gated PixelCNN on CIFAR-10: 15 gated layers, 256-way softmax (paper: 3.03 bits/dim)."""
    return Preset(GatedPixelCNNConfig(image_channels=3, image_size=32, hidden=128, num_layers=15,
                                      output_features=1024, distribution="categorical"),
                  TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=16),
                  "Gated PixelCNN, 15 layers, h=128, softmax")


def gated_pixelcnn_cifar10_class() -> Preset:
    """Class-conditional Gated PixelCNN (one-hot label -> per-layer bias, eq. 4)."""
    p = gated_pixelcnn_cifar10()
    return Preset(dataclasses.replace(p.model, num_classes=10), p.train,
                  "Gated PixelCNN conditioned on the 10 CIFAR-10 classes")


def gated_pixelcnn_mnist() -> Preset:
    return Preset(GatedPixelCNNConfig(image_channels=1, image_size=28, num_levels=2, hidden=32, num_layers=7,
                                      output_features=64, distribution="bernoulli"),
                  TrainConfig(optimizer="adam", lr=1e-3, batch_size=16),
                  "Gated PixelCNN for binarized MNIST (Bernoulli output)")


def gated_pixelcnn_small() -> Preset:
    """A few gated layers with a discretized logistic mixture output, for 2 CPU cores."""
    return Preset(GatedPixelCNNConfig(image_channels=3, image_size=32, hidden=48, num_layers=6,
                                      first_kernel=7, kernel=3, output_features=96,
                                      distribution="logistic_mixture", num_mixtures=5),
                  TrainConfig(optimizer="adam", lr=2e-3, batch_size=16),
                  "small Gated PixelCNN + logistic mixture for 2 CPU cores")


# ---- PixelCNN++ (Salimans et al. 2017) ---------------------------------------------------

def pixelcnn_pp_cifar10() -> Preset:
    """§3: num_resnet=5, 160 filters, 10 mixtures, dropout 0.5, Adamax lr 1e-3 decayed by
    0.999995 per step, Polyak averaging 0.9995, batch 16 per device (paper: 2.92 bits/dim)."""
    return Preset(PixelCNNPlusPlusConfig(image_channels=3, image_size=32, num_filters=160, num_resnet=5,
                                         num_mixtures=10, dropout=0.5),
                  TrainConfig(optimizer="adamax", lr=1e-3, lr_decay=0.999995, betas=(0.95, 0.9995),
                              ema=0.9995, batch_size=16),
                  "PixelCNN++ CIFAR-10: 6 blocks x 5 gated ResNets, 160 filters, 10 logistics, dropout 0.5")


def pixelcnn_pp_cifar10_class() -> Preset:
    """The class-conditional CIFAR-10 model: one-hot label -> per-layer bias."""
    p = pixelcnn_pp_cifar10()
    return Preset(dataclasses.replace(p.model, num_classes=10), p.train,
                  "PixelCNN++ CIFAR-10 conditioned on the 10 classes")


def pixelcnn_pp_small() -> Preset:
    """A PixelCNN++ for 2 CPU cores: 2 ResNets per block, 32 filters, 5 logistics."""
    return Preset(PixelCNNPlusPlusConfig(image_channels=3, image_size=32, num_filters=32, num_resnet=2,
                                         num_mixtures=5, dropout=0.0),
                  TrainConfig(optimizer="adamax", lr=2e-3, lr_decay=0.9995, betas=(0.95, 0.9995),
                              ema=0.99, batch_size=16),
                  "small PixelCNN++ for 2 CPU cores")


# ---- PixelSNAIL (Chen et al. 2018) -----------------------------------------------------------

def pixelsnail_cifar10() -> Preset:
    """12 blocks of (4 gated ResNets, 256 filters + attention, keys 16, values 128), 10 logistics,
    dropout 0.5, Polyak 0.9995; Adam lr 1e-3 decayed by 0.999995 per step, betas (0.95, 0.9995)
    as the PixelCNN++ reference training script the paper's code builds on; batch 8 per device
    (paper: 2.85 bits/dim)."""
    return Preset(PixelSNAILConfig(image_channels=3, image_size=32, num_filters=256, num_blocks=12,
                                   num_resnet=4, num_mixtures=10, dropout=0.5),
                  TrainConfig(optimizer="adam", lr=1e-3, lr_decay=0.999995, betas=(0.95, 0.9995),
                              ema=0.9995, batch_size=8),
                  "PixelSNAIL CIFAR-10: 12 x (4 gated ResNets + causal attention), 256 filters, 10 logistics")


def pixelsnail_imagenet32() -> Preset:
    """ImageNet 32x32: as CIFAR-10 with 32 logistics, no dropout, Polyak 0.9997, Adam lr 1e-4
    (paper: 3.80 bits/dim)."""
    return Preset(PixelSNAILConfig(image_channels=3, image_size=32, num_filters=256, num_blocks=12,
                                   num_resnet=4, num_mixtures=32, dropout=0.0),
                  TrainConfig(optimizer="adam", lr=1e-4, lr_decay=0.999995, betas=(0.95, 0.9995),
                              ema=0.9997, batch_size=8),
                  "PixelSNAIL ImageNet 32x32: 12 x (4 gated ResNets + causal attention), 32 logistics")


def pixelsnail_small() -> Preset:
    """A PixelSNAIL for 2 CPU cores: 2 blocks of 2 gated ResNets, 32 filters, 5 logistics."""
    return Preset(PixelSNAILConfig(image_channels=3, image_size=32, num_filters=32, num_blocks=2,
                                   num_resnet=2, num_mixtures=5, dropout=0.0),
                  TrainConfig(optimizer="adam", lr=2e-3, lr_decay=0.9995, betas=(0.95, 0.9995),
                              ema=0.99, batch_size=16),
                  "small PixelSNAIL for 2 CPU cores")
