"""Named paper recipes. Each builder returns a :class:`Preset` that reads as the paper's setup."""
from __future__ import annotations

import dataclasses
from typing import Any

from .models.gated_pixelcnn import GatedPixelCNNConfig
from .models.grayscale_pixelcnn import GrayscalePixelCNNConfig
from .models.pixelcnn import PixelCNNConfig
from .models.pixelcnn_pp import PixelCNNPlusPlusConfig
from .models.pyramid_pixelcnn import PyramidPixelCNNConfig
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


# ---- PixelCNNs with auxiliary variables (Kolesnikov & Lampert 2017) ----------------------------
# Each factor is a PixelCNN++ with the PixelCNN++ CIFAR-10 recipe (160 filters, 10 logistics,
# dropout 0.5, Adamax with Polyak averaging); the CelebA presets train on pixelar's celeba32 /
# celeba128 data sets (the loader exists; no CelebA files are on the development machine).

def _auxiliary_train() -> TrainConfig:
    return pixelcnn_pp_cifar10().train


def grayscale_pixelcnn_cifar10() -> Preset:
    """§3.3: p(4-bit grayscale) and p(x | grayscale), two PixelCNN++s (5 gated ResNets per block,
    160 filters) and a 5-layer unshifted embedding of ŷ biasing every block of the second."""
    return Preset(GrayscalePixelCNNConfig(image_size=32, num_filters=160, num_resnet=5, embedding_filters=160,
                                          embedding_resnet=5, num_mixtures=10, dropout=0.5),
                  _auxiliary_train(), "Grayscale PixelCNN, CIFAR-10: PixelCNN++ for p(ŷ) and p(x|ŷ), 160 filters")


def grayscale_pixelcnn_celeba32() -> Preset:
    p = grayscale_pixelcnn_cifar10()
    return Preset(p.model, p.train, "Grayscale PixelCNN for 32x32 CelebA faces (dataset celeba32)")


def grayscale_pixelcnn_celeba128() -> Preset:
    p = grayscale_pixelcnn_cifar10()
    return Preset(dataclasses.replace(p.model, image_size=128), dataclasses.replace(p.train, batch_size=4),
                  "Grayscale PixelCNN for 128x128 CelebA faces (dataset celeba128), batch 4")


def grayscale_pixelcnn_small() -> Preset:
    """Two 1-ResNet-per-block PixelCNN++s with 32 filters: about pixelcnn_pp small's size, 2 CPU cores."""
    return Preset(GrayscalePixelCNNConfig(image_size=32, num_filters=32, num_resnet=1, embedding_filters=32,
                                          embedding_resnet=2, num_mixtures=5, dropout=0.0),
                  pixelcnn_pp_small().train, "small Grayscale PixelCNN for 2 CPU cores")


def pyramid_pixelcnn_cifar10() -> Preset:
    """§3.4: 32x32 -> 16x16 -> 8x8 (2x2 block means); each level a light PixelCNN++ (2 gated ResNets
    per stream, 160 filters, no down/up-sampling) biased by a 6-layer embedding of the level below."""
    return Preset(PyramidPixelCNNConfig(image_size=32, base_size=8, num_filters=160, num_resnet=2,
                                        embedding_filters=160, embedding_resnet=6, num_mixtures=10, dropout=0.5),
                  _auxiliary_train(), "Pyramid PixelCNN, CIFAR-10: 32 <- 16 <- 8, light PixelCNN++ per level")


def pyramid_pixelcnn_celeba32() -> Preset:
    p = pyramid_pixelcnn_cifar10()
    return Preset(p.model, p.train, "Pyramid PixelCNN for 32x32 CelebA faces (dataset celeba32)")


def pyramid_pixelcnn_celeba128() -> Preset:
    """§4.2: 128x128 faces from an 8x8 base (four up-scalings)."""
    p = pyramid_pixelcnn_cifar10()
    return Preset(dataclasses.replace(p.model, image_size=128), dataclasses.replace(p.train, batch_size=4),
                  "Pyramid PixelCNN for 128x128 CelebA faces: 128 <- 64 <- 32 <- 16 <- 8, batch 4")


def pyramid_pixelcnn_small() -> Preset:
    """32 <- 16 <- 8 with 32-filter levels (2 gated ResNets per stream) for 2 CPU cores."""
    return Preset(PyramidPixelCNNConfig(image_size=32, base_size=8, num_filters=32, num_resnet=2,
                                        embedding_filters=32, embedding_resnet=3, num_mixtures=5, dropout=0.0),
                  pixelcnn_pp_small().train, "small Pyramid PixelCNN for 2 CPU cores")
