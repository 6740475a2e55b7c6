"""Reed et al. 2017 §4.3: the action-conditional O(T) and O(T log N) video PixelCNNs.

Paper recipe: "conditioned on 2 starting frames and also on the robot arm actions and state, which
are each 5-dimensional vectors"; "trained for 200K steps with batch size 64, using the RMSprop
optimizer with centering and ε = 1e-8. The learning rate was initialized to 1e-4 and decayed by
factor 0.3 after 83K steps and after 113K steps"; logistic mixture for O(T), softmax for O(T log N).
All of it is in the ``robot`` presets' TrainConfig (centred RMSprop, milestones 83K and 113K, γ 0.3);
train them with ``--steps 200000``. RMSprop's smoothing constant: text silent (pixelar's 0.95).
Widths and depths of the video networks: text silent (ours).
"""
from __future__ import annotations

import dataclasses

from ..models.video_pixelcnn import (
    VideoPixelCNNOT,
    VideoPixelCNNOTConfig,
    VideoPixelCNNOTLogN,
    VideoPixelCNNOTLogNConfig,
)
from ..training.config import TrainConfig
from . import Preset, preset

_PAPER_TRAIN = TrainConfig(optimizer="rmsprop", lr=1e-4, rmsprop_eps=1e-8, rmsprop_centered=True, batch_size=64,
                           lr_milestones=(83_000, 113_000), lr_gamma=0.3)
_SMALL_TRAIN = TrainConfig(optimizer="adam", lr=1e-3, batch_size=4, eval_batch_size=8)
# moving digits: 64x64 gray frames, 20 per clip, 2 given, 5-d actions and state (pixelar.data.video)
_DIGITS = {"image_channels": 1, "image_size": 64, "num_frames": 20, "num_context": 2, "action_dim": 5, "state_dim": 5}


@preset
def video_pixelcnn_ot_robot() -> Preset:
    """§4.3 O(T) model at Robot Pushing's shape: 64x64 RGB, 20 frames, 2 given, 5-d actions and state;
    type-A upscalers at the final scale, discretized logistic mixture (widths ours)."""
    return Preset(model_class=VideoPixelCNNOT,
                  model=VideoPixelCNNOTConfig(image_channels=3, image_size=64, num_frames=20, num_context=2,
                                              action_dim=5, state_dim=5, encoder_hidden=64, hidden=128,
                                              num_resnet=8, distribution="logistic_mixture", num_mixtures=10),
                  train=_PAPER_TRAIN, dataset="robot_pushing",
                  description="Reed et al. §4.3 O(T) video PixelCNN, Robot Pushing 64x64 (paper's recipe)")


@preset(default=True)
def video_pixelcnn_ot_small() -> Preset:
    """The O(T) model on the moving-digits data (64x64 gray, 20 frames) at a width 2 CPU cores train."""
    return Preset(model_class=VideoPixelCNNOT,
                  model=VideoPixelCNNOTConfig(**_DIGITS, encoder_hidden=16, hidden=32, num_resnet=2,
                                              distribution="logistic_mixture", num_mixtures=5),
                  train=_SMALL_TRAIN, dataset="moving_digits",
                  description="small O(T) video PixelCNN for moving digits on 2 CPU cores")


@preset
def video_pixelcnn_ot_moving_mnist_small() -> Preset:
    """The small O(T) model on plain Moving MNIST (no actions, no state)."""
    p = video_pixelcnn_ot_small()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, action_dim=0, state_dim=0),
                               dataset="moving_mnist", description="small O(T) video PixelCNN for Moving MNIST")


@preset
def video_pixelcnn_otlogn_robot() -> Preset:
    """§4.3 O(T log N) model at Robot Pushing's shape: the multiscale upscaler (type A) for every frame,
    conditioned on the ConvLSTM state; softmax output (base size and widths ours)."""
    return Preset(model_class=VideoPixelCNNOTLogN,
                  model=VideoPixelCNNOTLogNConfig(image_channels=3, image_size=64, num_frames=20, num_context=2,
                                                  action_dim=5, state_dim=5, encoder_hidden=64, hidden=128,
                                                  num_resnet=8, base_size=8, base_hidden=64, base_layers=6,
                                                  base_output_features=256, upscaler="A",
                                                  distribution="categorical"),
                  train=_PAPER_TRAIN, dataset="robot_pushing",
                  description="Reed et al. §4.3 O(T log N) video PixelCNN, Robot Pushing 64x64 (paper's recipe)")


@preset(default=True)
def video_pixelcnn_otlogn_small() -> Preset:
    """The O(T log N) model on moving digits at a width 2 CPU cores train (8x8 base, softmax)."""
    return Preset(model_class=VideoPixelCNNOTLogN,
                  model=VideoPixelCNNOTLogNConfig(**_DIGITS, encoder_hidden=16, hidden=32, num_resnet=2,
                                                  base_size=8, base_hidden=16, base_layers=3,
                                                  base_output_features=32, upscaler="A",
                                                  distribution="categorical"),
                  train=_SMALL_TRAIN, dataset="moving_digits",
                  description="small O(T log N) video PixelCNN for moving digits on 2 CPU cores")
