"""The parallel multiscale PixelCNN (Reed et al. 2017).

Paper-size presets follow the text wherever it speaks (docs/fidelity-reed-aux.md):
* every PixelCNN, base and type-B patch nets, is a Gated PixelCNN (§4.4, "the same architecture as in
  (van den Oord et al., 2016b)");
* §4.1: "RMSprop with hyperparameter ε = 1e-8, with batch size 128 for 200K steps. The learning rate was
  set initially to 1e-4 and decayed to 1e-5" (:data:`PAPER_RECIPE`);
* §4.2 (CUB, MPII, MS-COCO): type B, 12 ResNet + 4 PixelCNN layers, 128 units, a 4×4 base, captions padded
  to 201 characters through a 3-convolution char-CNN + GRU, one text encoder up to 32×32 and one per
  upscaler above, keypoint / segmentation maps through a 12-layer ResNet, its features "resized with
  bilinear interpolation to the spatial size of the image" (``spatial_resize="bilinear"``);
* §4.4 (ImageNet): type B, 12 ResNet + 4 PixelCNN layers, 256 units, an 8×8 base, 1000 classes.
* §4.4 "At scales 64×64 and above, during training we randomly cropped the image to 32×32" and §4.2 (the
  conditioning "randomly cropped along with the target image"): ``train_crop=32`` in every paper-size
  preset (the 32×32 CPU presets have no such scale).
Text silent (our choices): the base Gated PixelCNN's depth/width (15 layers of 128 units and a 1024-unit
output layer, the Gated PixelCNN preset's), the shape of the decay (geometric in the step), RMSprop's
smoothing (0.9, TensorFlow's default; centring is stated only for the video models), the width of the
class/text embedding. The output is a 256-way softmax everywhere: §3.1's footnote names the logistic
mixture only as what "one could also use ... instead of a softmax".
"""
from __future__ import annotations

import dataclasses

from ..models.multiscale_pixelcnn import MultiscalePixelCNN, MultiscalePixelCNNConfig
from ..training.config import TrainConfig
from . import Preset, preset


@preset(default=True)
def multiscale_pixelcnn_small() -> Preset:
    """Unconditional 32×32: a 4×4 base Gated PixelCNN, then type-B upscalers (2 ResNet + 2 gated PixelCNN
    layers, 32 units, 4×4 patches) for 8, 16 and 32, logistic mixture output; trains on 2 CPU cores.
    Sizes and recipe (Adam 2e-3) are ours, for CPU training; the paper-size presets are below."""
    return Preset(model_class=MultiscalePixelCNN,
                  model=MultiscalePixelCNNConfig(image_channels=3, image_size=32, base_size=4, pixelcnn="gated",
                                                 base_hidden=32, base_layers=4, base_output_features=64, upscaler="B", hidden=32,
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
    """The small model conditioned on captions (char-CNN + GRU, average pooling over time, §4.2; 2 convolutions,
    not the paper's 3: with 3 this CPU-sized model did not learn the CLI test's 4-caption task in 200 steps):
    data sets carry them as ``caption`` strings (an npz's ``{split}_captions`` array); through the
    Python API pass cond={"text": ["a caption", ...]}."""
    p = multiscale_pixelcnn_small()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, text_vocab=128), dataset=None,
                               description="small multiscale PixelCNN conditioned on character-level captions")


# §4.1: "RMSprop with hyperparameter ε = 1e-8, with batch size 128 for 200K steps. The learning rate was set
# initially to 1e-4 and decayed to 1e-5." (decay shape and RMSprop smoothing: text silent, see the module doc)
PAPER_RECIPE = TrainConfig(optimizer="rmsprop", rmsprop_eps=1e-8, rmsprop_alpha=0.9, lr=1e-4, lr_final=1e-5,
                           lr_decay_steps=200_000, batch_size=128)
PAPER_STEPS = 200_000

# §4.4 base and upscalers; the base's size is not in the text (the Gated PixelCNN preset's: our choice)
_IMAGENET = MultiscalePixelCNNConfig(image_channels=3, image_size=64, base_size=8, pixelcnn="gated", base_hidden=128,
                                     base_layers=15, base_output_features=1024, upscaler="B", hidden=256,
                                     num_resnet=12, num_pixelcnn=4, patch_size=4, distribution="categorical",
                                     num_classes=1000, cond_dim=256, train_crop=32)


@preset
def multiscale_pixelcnn_imagenet_class() -> Preset:
    """§4.4: class-conditional ImageNet 64×64 from an 8×8 base Gated PixelCNN; type B upscalers (12 ResNet
    layers, a 4-layer gated patch PixelCNN, 256 units), 256-way softmax; the §4.1 recipe. Labels exist only
    in the Chrabaszcz et al. npz release, hence its data set."""
    return Preset(model_class=MultiscalePixelCNN, model=_IMAGENET,
                  train=PAPER_RECIPE, dataset="imagenet64_npz",
                  description="Reed et al. §4.4: class-conditional ImageNet 64x64, 8x8 gated base, type B (12 ResNet + "
                              "4 PixelCNN layers, 256 units), RMSprop 1e-4 -> 1e-5")


@preset
def multiscale_pixelcnn_imagenet128_class() -> Preset:
    """§4.4, Table 3's 128 column: "trained four upscaling networks to produce up to 128×128 samples" from
    the 8×8 base. pixelar has no ImageNet 128×128 data set: give one (``npz:`` with images and labels)."""
    return Preset(model_class=MultiscalePixelCNN, model=dataclasses.replace(_IMAGENET, image_size=128),
                  train=PAPER_RECIPE, dataset=None,
                  description="Reed et al. §4.4: class-conditional ImageNet 128x128 (four upscalers from 8x8), "
                              "RMSprop 1e-4 -> 1e-5; pixelar has no ImageNet 128x128 loader: give "
                              "--dataset npz:PATH with images and labels")


def _text_and_structure(parts: int, what: str, data: str) -> Preset:
    """§4.2: captions + a 32×32×P map of parts (keypoints) or classes (segmentation) -> 256×256 images
    ("starting by generating 4×4 images, followed by six upscaling steps, to produce a 256×256 image").
    pixelar has no loader for ``data`` (the preset's data set is None): its description says so."""
    cfg = MultiscalePixelCNNConfig(image_channels=3, image_size=256, base_size=4, pixelcnn="gated", base_hidden=128,
                                   base_layers=15, base_output_features=1024, upscaler="B", hidden=128,
                                   num_resnet=12, num_pixelcnn=4, patch_size=4, distribution="categorical",
                                   spatial_channels=parts, spatial_resnet=12, spatial_resize="bilinear",
                                   text_vocab=128, text_conv=3,
                                   text_length=201, text_shared_up_to=32, cond_dim=128, train_crop=32)
    return Preset(model_class=MultiscalePixelCNN, model=cfg, train=PAPER_RECIPE, dataset=None,
                  description=f"Reed et al. §4.2: {what} 256x256 from a 4x4 gated base, type B (12 ResNet + 4 "
                              f"PixelCNN layers, 128 units), captions + {parts}-channel maps; pixelar has no {data} "
                              f"loader: give --dataset npz:PATH with captions and spatial maps")


@preset
def multiscale_pixelcnn_cub() -> Preset:
    """§4.2 CUB birds: captions and "a 32 × 32 × P binary feature map, where P is the number of parts; ...
    15 for CUB" (data: ``caption`` strings and ``spatial`` (N, 15, 32, 32) maps, e.g. an npz)."""
    return _text_and_structure(15, "CUB text + keypoints to bird", "CUB")


@preset
def multiscale_pixelcnn_mpii() -> Preset:
    """§4.2 MPII: captions and 17 human part locations as a 32×32×17 binary map."""
    return _text_and_structure(17, "MPII text + keypoints to human", "MPII")


@preset
def multiscale_pixelcnn_coco() -> Preset:
    """§4.2 MS-COCO: captions and "the 80-class segmentation scaled to 32×32" (32×32×80)."""
    return _text_and_structure(80, "MS-COCO text + segmentation to scene", "MS-COCO")
