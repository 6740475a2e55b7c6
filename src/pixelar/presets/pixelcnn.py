"""PixelCNN (PixelRNN paper, §3.5, Table 1 and §5) and the Gated PixelCNN (van den Oord et al. 2016b)."""
from __future__ import annotations

import dataclasses

from ..models.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from ..models.pixelcnn import PixelCNN, PixelCNNConfig
from ..training.config import TrainConfig
from . import Preset, preset

# ---- PixelCNN (PixelRNN paper) ----------------------------------------------------------------


@preset(default=True)
def pixelcnn_cifar10() -> Preset:
    """PixelRNN Table 1/3: 15 masked layers, h=128, 1024 output features, 256-way softmax, RMSProp."""
    return Preset(model_class=PixelCNN,
                  model=PixelCNNConfig(image_channels=3, image_size=32, hidden=128, num_layers=15,
                                       output_features=1024, distribution="categorical"),
                  train=TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=16), dataset="cifar10",
                  description="PixelRNN §3.5 CIFAR-10 PixelCNN: 7x7 mask A + 14 residual 3x3 blocks, h=128, softmax")


@preset
def pixelcnn_mnist() -> Preset:
    """PixelRNN Table 4 PixelCNN on binarized MNIST: Bernoulli (sigmoid) output.

    The paper gives the output layers' width ("for the MNIST experiment, the layers have 32 feature
    maps") but not the PixelCNN's depth or h (text silent). pixelar's choice: 15 layers, the depth
    of the paper's CIFAR-10 PixelCNN (the 7×7 mask-A layer and 14 residual blocks: 17 rows of
    context above a pixel), and h = 64 (2h = 128 features), 990,785 parameters. Two smaller choices
    under-fitted on one CPU core's budget (README, Table 4): 7 layers of h = 32 (110,913
    parameters) flattened at 88.37 nats after 6.3 epochs, and 10 layers of h = 48 (363,041
    parameters) reached 86.07 after 5.7 epochs with its per-epoch gains shrinking by ~0.6×, both
    with training NLL equal to test NLL, far above the paper's 81.30.
    """
    return Preset(model_class=PixelCNN,
                  model=PixelCNNConfig(image_channels=1, image_size=28, num_levels=2, hidden=64, num_layers=15,
                                       output_features=32, distribution="bernoulli"),
                  train=TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=16), dataset="binarized_mnist",
                  description="PixelRNN Table 4 PixelCNN for binarized MNIST (sigmoid output)")


@preset
def pixelcnn_small() -> Preset:
    """The quick-start model: a PixelCNN that trains in minutes on 2 CPU cores, with a
    5-component discretized logistic mixture head (one network evaluation per pixel)."""
    return Preset(model_class=PixelCNN,
                  model=PixelCNNConfig(image_channels=3, image_size=32, hidden=32, num_layers=6,
                                       output_features=128, distribution="logistic_mixture", num_mixtures=5),
                  train=TrainConfig(optimizer="adam", lr=2e-3, lr_decay=0.999, ema=0.99, batch_size=16),
                  dataset="natural", description="small PixelCNN + logistic mixture for 2 CPU cores (quick start)")


# ---- Gated PixelCNN (van den Oord et al. 2016, Conditional Image Generation) ------------------

@preset(default=True)
def gated_pixelcnn_cifar10() -> Preset:
    """Gated PixelCNN on CIFAR-10: 15 gated layers, 256-way softmax (paper: 3.03 bits/dim)."""
    return Preset(model_class=GatedPixelCNN,
                  model=GatedPixelCNNConfig(image_channels=3, image_size=32, hidden=128, num_layers=15,
                                            output_features=1024, distribution="categorical"),
                  train=TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=16), dataset="cifar10",
                  description="Gated PixelCNN, 15 layers, h=128, softmax")


@preset
def gated_pixelcnn_cifar10_class() -> Preset:
    """Class-conditional Gated PixelCNN (one-hot label -> per-layer bias, eq. 4)."""
    p = gated_pixelcnn_cifar10()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, num_classes=10),
                               description="Gated PixelCNN conditioned on the 10 CIFAR-10 classes")


@preset
def gated_pixelcnn_receptive_field() -> Preset:
    """PixelSNAIL §3.1, Figure 6: "a shift-based causal convolution model (Gated PixelCNN ...). We used a
    medium size model with 7 gated resnet blocks and 6M parameters", inspected at pixel (15, 15) of a
    32x32 image at random init. 7 gated layers (the 7x7 first one included); text silent on the width
    and output layers: h=192 with the CIFAR-10 preset's 1024-unit softmax head gives 6,306,112
    parameters, the nearest round width to 6M (our choice).
    ``pixelar receptive-field --figure 6 --out fig6.png``."""
    p = gated_pixelcnn_cifar10()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, num_layers=7, hidden=192),
                               description="PixelSNAIL Fig. 6 receptive-field model: Gated PixelCNN, 7 gated "
                                           "layers, h=192 (6M parameters)")


@preset
def gated_pixelcnn_mnist() -> Preset:
    return Preset(model_class=GatedPixelCNN,
                  model=GatedPixelCNNConfig(image_channels=1, image_size=28, num_levels=2, hidden=32, num_layers=7,
                                            output_features=64, distribution="bernoulli"),
                  train=TrainConfig(optimizer="adam", lr=1e-3, batch_size=16), dataset="binarized_mnist",
                  description="Gated PixelCNN for binarized MNIST (Bernoulli output)")


@preset
def gated_pixelcnn_small() -> Preset:
    """A few gated layers with a discretized logistic mixture output, for 2 CPU cores."""
    return Preset(model_class=GatedPixelCNN,
                  model=GatedPixelCNNConfig(image_channels=3, image_size=32, hidden=48, num_layers=6,
                                            first_kernel=7, kernel=3, output_features=96,
                                            distribution="logistic_mixture", num_mixtures=5),
                  train=TrainConfig(optimizer="adam", lr=2e-3, batch_size=16), dataset="natural",
                  description="small Gated PixelCNN + logistic mixture for 2 CPU cores")
