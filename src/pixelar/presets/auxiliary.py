"""PixelCNNs with auxiliary variables (Kolesnikov & Lampert 2017): Grayscale and Pyramid PixelCNN.

Grayscale PixelCNN: "we use the same hyperparameters as in Salimans et al.", so its factors take the
PixelCNN++ text's "192 feature maps and a dropout rate of 0.5" and 5 residual layers per block (10
logistics: PixelCNN++'s text is silent there, our choice, its released code's). Pyramid PixelCNN: "For
all convolutional layers we set the number of filters to [·]" (the number is lost): 160, our choice, the
released PixelCNN++ code's. Optimizer: "For numeric optimization, we use Adam" with "an exponential
learning rate decay ... applied after each iteration" (the text); its numbers are lost, so the rate
(1e-3), the decay (0.999995 per step), the batch (16) and Polyak averaging (0.9995) are our choice, the
PixelCNN++ recipe's. "We augment the training data by random horizontal image flipping": train.hflip
in every preset. The CelebA presets train on pixelar's celeba32 / celeba128 data sets (the loader
exists; no CelebA files are on the development machine).
"""
from __future__ import annotations

import dataclasses

from ..models.grayscale_pixelcnn import GrayscalePixelCNN, GrayscalePixelCNNConfig
from ..models.pyramid_pixelcnn import PyramidPixelCNN, PyramidPixelCNNConfig
from ..training.config import TrainConfig
from . import Preset, preset
from .pixelcnn_pp import pixelcnn_pp_cifar10, pixelcnn_pp_cifar10_released, pixelcnn_pp_small


def _adam(train: TrainConfig) -> TrainConfig:
    """The PixelCNN++ recipe with Adam, as the paper states ("For numeric optimization, we use Adam"),
    instead of Adamax, and random horizontal flips ("We augment the training data by random horizontal
    image flipping")."""
    return dataclasses.replace(train, optimizer="adam", hflip=True)


@preset(default=True)
def grayscale_pixelcnn_cifar10() -> Preset:
    """§3.3: p(4-bit grayscale) and p(x | grayscale), two PixelCNN++s (192 filters: "the same hyperparameters
    as in Salimans et al.", whose text gives "192 feature maps") and an unshifted
    embedding of ŷ biasing every block of the second. "The only exception is that for parameterizing
    p(x|ŷ) and f_w(ŷ) we use [·] residual blocks instead of [·]": p(ŷ) keeps PixelCNN++'s 5 per block,
    p(x | ŷ) and f_w get 3 (the numbers are lost: 3 is our choice; the conditional task is the easier one).
    f_w is "almost identical to the architecture of PixelCNN++ ... only one flow of residual blocks and do not
    shift": PixelCNN++'s six blocks (3 per block here) at three resolutions with its short-cuts, unshifted."""
    return Preset(model_class=GrayscalePixelCNN,
                  model=GrayscalePixelCNNConfig(image_size=32, num_filters=192, num_resnet=5, conditional_resnet=3,
                                                embedding_filters=192, embedding_resnet=3, num_mixtures=10,
                                                dropout=0.5, embedding_structure="pixelcnn_pp"),
                  train=_adam(pixelcnn_pp_cifar10().train), dataset="cifar10",
                  description="Grayscale PixelCNN, CIFAR-10: PixelCNN++ for p(ŷ) and p(x|ŷ), 192 filters")


@preset
def grayscale_pixelcnn_celeba32() -> Preset:
    return dataclasses.replace(grayscale_pixelcnn_cifar10(), dataset="celeba32",
                               description="Grayscale PixelCNN for 32x32 CelebA faces (dataset celeba32)")


@preset
def grayscale_pixelcnn_celeba128() -> Preset:
    p = grayscale_pixelcnn_cifar10()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, image_size=128),
                               train=dataclasses.replace(p.train, batch_size=4), dataset="celeba128",
                               description="Grayscale PixelCNN for 128x128 CelebA faces (dataset celeba128), batch 4")


@preset
def grayscale_pixelcnn_small() -> Preset:
    """Two 1-ResNet-per-block PixelCNN++s with 32 filters: about pixelcnn_pp small's size, 2 CPU cores."""
    return Preset(model_class=GrayscalePixelCNN,
                  model=GrayscalePixelCNNConfig(image_size=32, num_filters=32, num_resnet=1, embedding_filters=32,
                                                embedding_resnet=2, num_mixtures=5, dropout=0.0),
                  train=_adam(pixelcnn_pp_small().train), dataset="cifar10",
                  description="small Grayscale PixelCNN for 2 CPU cores")


@preset(default=True)
def pyramid_pixelcnn_cifar10() -> Preset:
    """§3.4: 32x32 -> 16x16 -> 8x8 (2x2 block means); each level a light PixelCNN++ (2 gated ResNets
    per stream, 160 filters, no down/up-sampling) biased by a 6-layer embedding of the level below."""
    return Preset(model_class=PyramidPixelCNN,
                  model=PyramidPixelCNNConfig(image_size=32, base_size=8, num_filters=160, num_resnet=2,
                                              embedding_filters=160, embedding_resnet=6, num_mixtures=10,
                                              dropout=0.5, embedding_upsampling="learned"),
                  train=_adam(pixelcnn_pp_cifar10_released().train), dataset="cifar10",
                  description="Pyramid PixelCNN, CIFAR-10: 32 <- 16 <- 8, light PixelCNN++ per level")


@preset
def pyramid_pixelcnn_celeba32() -> Preset:
    return dataclasses.replace(pyramid_pixelcnn_cifar10(), dataset="celeba32",
                               description="Pyramid PixelCNN for 32x32 CelebA faces (dataset celeba32)")


@preset
def pyramid_pixelcnn_celeba128() -> Preset:
    """§4.2: 128x128 faces from an 8x8 base (four up-scalings)."""
    p = pyramid_pixelcnn_cifar10()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, image_size=128),
                               train=dataclasses.replace(p.train, batch_size=4), dataset="celeba128",
                               description="Pyramid PixelCNN for 128x128 CelebA faces: 128 <- 64 <- 32 <- 16 <- 8, "
                                           "batch 4")


@preset
def pyramid_pixelcnn_small() -> Preset:
    """32 <- 16 <- 8 with 32-filter levels (2 gated ResNets per stream) for 2 CPU cores."""
    return Preset(model_class=PyramidPixelCNN,
                  model=PyramidPixelCNNConfig(image_size=32, base_size=8, num_filters=32, num_resnet=2,
                                              embedding_filters=32, embedding_resnet=3, num_mixtures=5, dropout=0.0,
                                              embedding_upsampling="learned"),
                  train=_adam(pixelcnn_pp_small().train), dataset="cifar10",
                  description="small Pyramid PixelCNN for 2 CPU cores")
