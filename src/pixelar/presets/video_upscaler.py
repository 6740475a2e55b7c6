"""Reed et al. 2017 §4.3's video upscalers: "We also trained 64 → 128 and 128 → 256 upscalers conditioned on
low-resolution and a previous high-resolution frame, so that we can produce 256×256 videos."

Sizes are the paper's; everything else is text silent (our choice): three type-A upscalers (the video
models' "both versions using type-A upscaling networks"), the O(T) video model's widths and discretized
logistic mixture (one head call per group: 3 network evaluations per frame), and the video models'
training recipe (centred RMSprop, lr 1e-4 decayed by 0.3 after 83K and 113K steps). The training data are
pairs of consecutive high-resolution frames (``"image"`` = frame t, ``"previous"`` = frame t-1); pixelar
ships no 128/256 robot video set, so the presets name no data set.
"""
from __future__ import annotations

from ..models.video_upscaler import VideoUpscaler, VideoUpscalerConfig
from ..training.config import TrainConfig
from . import Preset, preset
from .video import _PAPER_TRAIN


def _robot(size: int) -> Preset:
    return Preset(model_class=VideoUpscaler,
                  model=VideoUpscalerConfig(image_channels=3, image_size=size, hidden=128, num_resnet=8,
                                            distribution="logistic_mixture", num_mixtures=10),
                  train=_PAPER_TRAIN,
                  description=f"Reed et al. §4.3 video upscaler {size // 2}->{size} (low-res frame + previous "
                              "high-res frame; widths ours)")


@preset
def video_upscaler_robot_64to128() -> Preset:
    """§4.3's 64 -> 128 upscaler of Robot Pushing videos (RGB)."""
    return _robot(128)


@preset
def video_upscaler_robot_128to256() -> Preset:
    """§4.3's 128 -> 256 upscaler, so that the 64x64 video models give 256x256 videos."""
    return _robot(256)


@preset(default=True)
def video_upscaler_small() -> Preset:
    """A tiny 8 -> 16 RGB upscaler with an R->G->B softmax (for tests and 2 CPU cores)."""
    return Preset(model_class=VideoUpscaler,
                  model=VideoUpscalerConfig(image_channels=3, image_size=16, hidden=16, num_resnet=1,
                                            distribution="categorical"),
                  train=TrainConfig(optimizer="adam", lr=1e-3, batch_size=4, eval_batch_size=8),
                  description="small video upscaler 8->16 (softmax) for tests on 2 CPU cores")
