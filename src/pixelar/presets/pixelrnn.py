"""PixelRNN (van den Oord et al. 2016a): Row LSTM, Diagonal BiLSTM and Multi-Scale PixelRNN."""
from __future__ import annotations

import dataclasses
from typing import Any

from ..models.multiscale_pixelrnn import MultiScalePixelRNN, MultiScalePixelRNNConfig
from ..models.pixelrnn import DiagonalBiLSTMConfig, DiagonalBiLSTMPixelRNN, RowLSTMConfig, RowLSTMPixelRNN
from ..training.config import TrainConfig
from . import Preset, preset

_RMSPROP = TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=16)   # §5: RMSProp, batch 16 (MNIST/CIFAR)
# §5: "64 images/batch for 32 × 32 ImageNet, and 32 images/batch for 64 × 64 ImageNet" (lr: text silent)
_RMSPROP_IMAGENET32 = dataclasses.replace(_RMSPROP, batch_size=64)
_RMSPROP_IMAGENET64 = dataclasses.replace(_RMSPROP, batch_size=32)


def _binary(image_size: int) -> dict[str, Any]:
    """Binarized MNIST: one channel, two levels, a sigmoid (Bernoulli) output."""
    return {"image_channels": 1, "image_size": image_size, "num_levels": 2, "distribution": "bernoulli"}


def _rgb(image_size: int) -> dict[str, Any]:
    """RGB images with a 256-way softmax per sub-pixel (R -> G -> B masking)."""
    return {"image_channels": 3, "image_size": image_size, "distribution": "categorical"}


@preset
def row_lstm_mnist() -> Preset:
    return Preset(model_class=RowLSTMPixelRNN,
                  # Text silent on the size. h=16 (the Diagonal BiLSTM's) levelled off at 81.53 nats,
                  # its training NLL equal to its test NLL (benchmarks/table4_runs/row_lstm-mnist-h16).
                  model=RowLSTMConfig(**_binary(28), hidden=32, num_layers=7, output_features=32),
                  train=_RMSPROP, dataset="binarized_mnist",
                  description="PixelRNN Table 4 Row LSTM, binarized MNIST: 7 layers, h=32, sigmoid (paper: 80.54 nats)")


@preset(default=True)
def row_lstm_cifar10() -> Preset:
    return Preset(model_class=RowLSTMPixelRNN,
                  model=RowLSTMConfig(**_rgb(32), hidden=128, num_layers=12, output_features=1024),
                  train=_RMSPROP, dataset="cifar10",
                  description="PixelRNN Table 1/3 Row LSTM, CIFAR-10: 12 layers, h=128, 256-way softmax "
                              "(paper: 3.07 bits/dim)")


@preset
def row_lstm_imagenet32() -> Preset:
    return Preset(model_class=RowLSTMPixelRNN,
                  model=RowLSTMConfig(**_rgb(32), hidden=384, num_layers=12, output_features=1024),
                  train=_RMSPROP_IMAGENET32, dataset="imagenet32_png",
                  description="PixelRNN Row LSTM, ImageNet 32x32: 12 layers, h=384 (paper: 3.86 bits/dim)")


@preset
def row_lstm_imagenet64() -> Preset:
    return Preset(model_class=RowLSTMPixelRNN,
                  model=RowLSTMConfig(**_rgb(64), hidden=512, num_layers=4, output_features=1024, residual=False),
                  train=_RMSPROP_IMAGENET64, dataset="imagenet64_png",
                  description="PixelRNN Row LSTM, ImageNet 64x64: 4 layers, h=512, no residual connections")


@preset
def diagonal_bilstm_mnist() -> Preset:
    return Preset(model_class=DiagonalBiLSTMPixelRNN,
                  model=DiagonalBiLSTMConfig(**_binary(28), hidden=16, num_layers=7, output_features=32),
                  train=_RMSPROP, dataset="binarized_mnist",
                  description="PixelRNN Table 4 Diagonal BiLSTM, binarized MNIST: 7 layers, h=16 (paper: 79.20 nats)")


@preset
def diagonal_bilstm_mnist_1layer() -> Preset:
    return Preset(model_class=DiagonalBiLSTMPixelRNN,
                  model=DiagonalBiLSTMConfig(**_binary(28), hidden=32, num_layers=1, output_features=32),
                  train=_RMSPROP, dataset="binarized_mnist",
                  description="PixelRNN Table 4 Diagonal BiLSTM, binarized MNIST: 1 layer, h=32 (paper: 80.75 nats)")


@preset(default=True)
def diagonal_bilstm_cifar10() -> Preset:
    return Preset(model_class=DiagonalBiLSTMPixelRNN,
                  model=DiagonalBiLSTMConfig(**_rgb(32), hidden=128, num_layers=12, output_features=1024),
                  train=_RMSPROP, dataset="cifar10",
                  description="PixelRNN Table 1/3 Diagonal BiLSTM, CIFAR-10: 12 layers, h=128 (paper: 3.00 bits/dim)")


@preset
def multiscale_pixelrnn_mnist() -> Preset:
    return Preset(model_class=MultiScalePixelRNN,
                  model=MultiScalePixelRNNConfig(**_binary(28), hidden=16, num_layers=7, output_features=32,
                                                 subsample_factor=2),
                  train=_RMSPROP, dataset="binarized_mnist",
                  description="§3.6 Multi-Scale Row LSTM on binarized MNIST: 14x14 unconditional + 28x28 conditional")


@preset
def multiscale_pixelrnn_mnist_3scale() -> Preset:
    """§3.6 with two conditional PixelRNNs ("one or more"): 7x7 unconditional, then 14x14 and 28x28."""
    return Preset(model_class=MultiScalePixelRNN,
                  model=MultiScalePixelRNNConfig(**_binary(28), hidden=16, num_layers=7, output_features=32,
                                                 subsample_factor=2, num_scales=3),
                  train=_RMSPROP, dataset="binarized_mnist",
                  description="§3.6 Multi-Scale Row LSTM on binarized MNIST, 3 scales: 7x7 + 14x14 + 28x28")


@preset(default=True)
def multiscale_pixelrnn_imagenet64() -> Preset:
    return Preset(model_class=MultiScalePixelRNN,
                  model=MultiScalePixelRNNConfig(**_rgb(64), hidden=512, num_layers=4, output_features=1024,
                                                 residual=False, subsample_factor=2),
                  train=_RMSPROP_IMAGENET64, dataset="imagenet64_png",
                  description="§3.6 Multi-Scale Row LSTM, ImageNet 64x64: 32x32 unconditional + 64x64 conditional")
