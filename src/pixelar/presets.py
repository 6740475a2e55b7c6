"""Named paper recipes. Each builder returns a :class:`Preset` that reads as the paper's setup."""
from __future__ import annotations

import dataclasses
from typing import Any

from .models.gated_pixelcnn import GatedPixelCNNConfig
from .models.multiscale_pixelcnn import MultiscalePixelCNNConfig
from .models.grayscale_pixelcnn import GrayscalePixelCNNConfig
from .models.pixelcnn import PixelCNNConfig
from .models.multiscale_pixelrnn import MultiScalePixelRNNConfig
from .models.pixelcnn_pp import PixelCNNPlusPlusConfig
from .models.pixelrnn import DiagonalBiLSTMConfig, RowLSTMConfig
from .models.pixelsnail import PixelSNAILConfig
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


TABLE2_VARIANTS = ("plain", "nin", "ar_channel")


def pixelcnn_pp_table2(width: int, height: int, variant: str) -> Preset:
    """PixelCNN++ Table 2 "Small PixelCNN": a width × height causal window at full resolution.

    ``plain``: one gated shifted conv per layer; ``nin``: plus two 1×1 gated ResNets after each;
    ``ar_channel``: plain, with an output head that also reads the current pixel's earlier
    sub-pixels (channel_logistic_mixture). Widths and the paper's training recipe as ``cifar10``
    (the paper does not list the small models' widths; 160 filters is pixelar's choice).
    """
    if variant not in TABLE2_VARIANTS:
        raise ValueError(f"variant must be one of {TABLE2_VARIANTS}, got {variant!r}")
    p = pixelcnn_pp_cifar10()
    model = dataclasses.replace(
        p.model, receptive_width=width, receptive_height=height, num_nin=2 if variant == "nin" else 0,
        distribution="channel_logistic_mixture" if variant == "ar_channel" else "logistic_mixture")
    label = {"plain": "Plain", "nin": "NIN", "ar_channel": "Autoregressive Channel"}[variant]
    return Preset(model, p.train, f"PixelCNN++ Table 2 small PixelCNN, {width}x{height} window, {label}")


# ---- PixelRNN: Row LSTM, Diagonal BiLSTM, Multi-Scale (van den Oord et al. 2016a) -----------

def _pixelrnn(cfg_class: type, size: int, channels: int, hidden: int, layers: int, features: int,
              **kw: Any) -> Any:
    dist = {"distribution": "bernoulli", "num_levels": 2} if channels == 1 else {"distribution": "categorical"}
    return cfg_class(image_channels=channels, image_size=size, hidden=hidden, num_layers=layers,
                     output_features=features, **dist, **kw)


_RMSPROP = TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=16)   # §5: RMSProp, batch 16 (MNIST/CIFAR)


def row_lstm_mnist() -> Preset:
    return Preset(_pixelrnn(RowLSTMConfig, 28, 1, 16, 7, 32), _RMSPROP,
                  "PixelRNN Table 4 Row LSTM, binarized MNIST: 7 layers, h=16, sigmoid (paper: 80.54 nats)")


def row_lstm_cifar10() -> Preset:
    return Preset(_pixelrnn(RowLSTMConfig, 32, 3, 128, 12, 1024), _RMSPROP,
                  "PixelRNN Table 1/3 Row LSTM, CIFAR-10: 12 layers, h=128, 256-way softmax (paper: 3.07 bits/dim)")


def row_lstm_imagenet32() -> Preset:
    return Preset(_pixelrnn(RowLSTMConfig, 32, 3, 384, 12, 1024), _RMSPROP,
                  "PixelRNN Row LSTM, ImageNet 32x32: 12 layers, h=384 (paper: 3.86 bits/dim)")


def row_lstm_imagenet64() -> Preset:
    return Preset(_pixelrnn(RowLSTMConfig, 64, 3, 512, 4, 1024, residual=False), _RMSPROP,
                  "PixelRNN Row LSTM, ImageNet 64x64: 4 layers, h=512, no residual connections")


def diagonal_bilstm_mnist() -> Preset:
    return Preset(_pixelrnn(DiagonalBiLSTMConfig, 28, 1, 16, 7, 32), _RMSPROP,
                  "PixelRNN Table 4 Diagonal BiLSTM, binarized MNIST: 7 layers, h=16 (paper: 79.20 nats)")


def diagonal_bilstm_mnist_1layer() -> Preset:
    return Preset(_pixelrnn(DiagonalBiLSTMConfig, 28, 1, 32, 1, 32), _RMSPROP,
                  "PixelRNN Table 4 Diagonal BiLSTM, binarized MNIST: 1 layer, h=32 (paper: 80.75 nats)")


def diagonal_bilstm_cifar10() -> Preset:
    return Preset(_pixelrnn(DiagonalBiLSTMConfig, 32, 3, 128, 12, 1024), _RMSPROP,
                  "PixelRNN Table 1/3 Diagonal BiLSTM, CIFAR-10: 12 layers, h=128 (paper: 3.00 bits/dim)")


def multiscale_pixelrnn_mnist() -> Preset:
    return Preset(_pixelrnn(MultiScalePixelRNNConfig, 28, 1, 16, 7, 32, subsample_factor=2), _RMSPROP,
                  "§3.6 Multi-Scale Row LSTM on binarized MNIST: 14x14 unconditional + 28x28 conditional")


def multiscale_pixelrnn_imagenet64() -> Preset:
    return Preset(_pixelrnn(MultiScalePixelRNNConfig, 64, 3, 512, 4, 1024, residual=False, subsample_factor=2),
                  _RMSPROP, "§3.6 Multi-Scale Row LSTM, ImageNet 64x64: 32x32 unconditional + 64x64 conditional")


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


# ---- Parallel multiscale PixelCNN (Reed et al. 2017) --------------------------------------

def multiscale_pixelcnn_small() -> Preset:
    """Unconditional 32×32: a 4×4 base PixelCNN, then type-B upscalers (2 ResNet + 2 PixelCNN layers,
    32 units, 4×4 patches) for 8, 16 and 32, logistic mixture output; trains on 2 CPU cores."""
    return Preset(MultiscalePixelCNNConfig(image_channels=3, image_size=32, base_size=4, base_hidden=32,
                                           base_layers=4, base_output_features=64, upscaler="B", hidden=32,
                                           num_resnet=2, num_pixelcnn=2, patch_size=4,
                                           distribution="logistic_mixture", num_mixtures=5),
                  TrainConfig(optimizer="adam", lr=2e-3, lr_decay=0.999, ema=0.99, batch_size=16),
                  "small multiscale PixelCNN (4x4 base, type B upscalers) for 2 CPU cores")


def multiscale_pixelcnn_class_small() -> Preset:
    """The small model conditioned on 10 classes (every factor gets the class embedding)."""
    p = multiscale_pixelcnn_small()
    return Preset(dataclasses.replace(p.model, num_classes=10), p.train,
                  "small class-conditional multiscale PixelCNN (10 classes)")


def multiscale_pixelcnn_spatial_small() -> Preset:
    """The small model conditioned on a one-channel spatial map (keypoint heat map or mask, §4.1),
    resized to every scale; pass cond={"spatial": (N, 1, h, w)} through the Python API."""
    p = multiscale_pixelcnn_small()
    return Preset(dataclasses.replace(p.model, spatial_channels=1), p.train,
                  "small multiscale PixelCNN conditioned on a 1-channel spatial map")


def multiscale_pixelcnn_text_small() -> Preset:
    """The small model conditioned on captions (char-CNN + GRU, average pooling over time, §4.2);
    pass cond={"text": ["a caption", ...]} through the Python API."""
    p = multiscale_pixelcnn_small()
    return Preset(dataclasses.replace(p.model, text_vocab=128), p.train,
                  "small multiscale PixelCNN conditioned on character-level captions")


def multiscale_pixelcnn_imagenet_class() -> Preset:
    """§4.4 layout: class-conditional ImageNet 64×64 from an 8×8 base; type B upscalers with 12 ResNet
    layers and a 4-layer patch PixelCNN, 256 units, 256-way softmax. (The base PixelCNN's size and the
    optimizer are our choices.)"""
    return Preset(MultiscalePixelCNNConfig(image_channels=3, image_size=64, base_size=8, base_hidden=128,
                                           base_layers=15, base_output_features=1024, upscaler="B",
                                           hidden=256, num_resnet=12, num_pixelcnn=4, patch_size=4,
                                           distribution="categorical", num_classes=1000, cond_dim=256),
                  TrainConfig(optimizer="adam", lr=1e-4, batch_size=16),
                  "Reed et al. §4.4: class-conditional ImageNet 64x64, 8x8 base, type B (12 ResNet + 4 "
                  "PixelCNN layers, 256 units)")


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
