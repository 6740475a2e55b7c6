"""Reed et al. 2017 §4.3: the action-conditional O(T) and O(T log N) video PixelCNNs, and Table 2's
reference rows: the O(T) baseline (no spatial dependencies inside a frame) and the O(TN) model.

Paper recipe: "conditioned on 2 starting frames and also on the robot arm actions and state, which
are each 5-dimensional vectors"; "trained for 200K steps with batch size 64, using the RMSprop
optimizer with centering and ε = 1e-8. The learning rate was initialized to 1e-4 and decayed by
factor 0.3 after 83K steps and after 113K steps"; logistic mixture for O(T), softmax for O(T log N).
All of it is in the ``robot`` presets' TrainConfig (the baselines' too: text silent on how they were
trained, our choice) (centred RMSprop, milestones 83K and 113K, γ 0.3);
train them with ``--steps 200000``. RMSprop's smoothing constant: text silent (pixelar's 0.95).
Widths and depths of the video networks: text silent (ours).
"""
from __future__ import annotations

import dataclasses

from ..models.video_baselines import (
    VideoPixelCNNOTBaseline,
    VideoPixelCNNOTBaselineConfig,
    VideoPixelCNNOTN,
    VideoPixelCNNOTNConfig,
)
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


@preset
def video_pixelcnn_ot_baseline_robot() -> Preset:
    """Table 2's O(T) baseline at Robot Pushing's shape: the O(T) model's encoder and widths, every pixel
    of a frame independent given the past (one ResNet + 1x1 head per frame), discretized logistic mixture."""
    return Preset(model_class=VideoPixelCNNOTBaseline,
                  model=VideoPixelCNNOTBaselineConfig(image_channels=3, image_size=64, num_frames=20, num_context=2,
                                                      action_dim=5, state_dim=5, encoder_hidden=64, hidden=128,
                                                      num_resnet=8, distribution="logistic_mixture",
                                                      num_mixtures=10),
                  train=_PAPER_TRAIN, dataset="robot_pushing",
                  description="Reed et al. Table 2 O(T) baseline (ConvLSTM, no spatial dependencies), Robot Pushing 64x64")


@preset(default=True)
def video_pixelcnn_ot_baseline_small() -> Preset:
    """The O(T) baseline on moving digits at the sizes of ``video_pixelcnn_ot small``."""
    return Preset(model_class=VideoPixelCNNOTBaseline,
                  model=VideoPixelCNNOTBaselineConfig(**_DIGITS, encoder_hidden=16, hidden=32, num_resnet=2,
                                                      distribution="logistic_mixture", num_mixtures=5),
                  train=_SMALL_TRAIN, dataset="moving_digits",
                  description="small O(T) baseline (pixels of a frame independent) for moving digits on 2 CPU cores")


@preset
def video_pixelcnn_ot_baseline_moving_mnist_small() -> Preset:
    """The small O(T) baseline on plain Moving MNIST (no actions, no state)."""
    p = video_pixelcnn_ot_baseline_small()
    return dataclasses.replace(p, model=dataclasses.replace(p.model, action_dim=0, state_dim=0),
                               dataset="moving_mnist", description="small O(T) baseline for Moving MNIST")


@preset
def video_pixelcnn_otn_robot() -> Preset:
    """Table 2/4's O(TN) model at Robot Pushing's shape: a Gated PixelCNN per frame (van den Oord et al.
    2016b's 15 layers, 7x7 then 3x3) conditioned on the ConvLSTM state, 256-way softmax per sub-pixel
    (R->G->B; the VPN's output); widths ours."""
    return Preset(model_class=VideoPixelCNNOTN,
                  model=VideoPixelCNNOTNConfig(image_channels=3, image_size=64, num_frames=20, num_context=2,
                                               action_dim=5, state_dim=5, encoder_hidden=64, hidden=128,
                                               num_layers=15, output_features=1024, distribution="categorical"),
                  train=_PAPER_TRAIN, dataset="robot_pushing",
                  description="O(TN) video model (Gated PixelCNN per frame on the ConvLSTM state), Robot Pushing 64x64")


@preset(default=True)
def video_pixelcnn_otn_small() -> Preset:
    """The O(TN) model on moving digits at a width 2 CPU cores train (softmax, 6 gated layers)."""
    return Preset(model_class=VideoPixelCNNOTN,
                  model=VideoPixelCNNOTNConfig(**_DIGITS, encoder_hidden=16, hidden=32, num_layers=6,
                                               output_features=64, distribution="categorical"),
                  train=_SMALL_TRAIN, dataset="moving_digits",
                  description="small O(TN) video model (per-pixel Gated PixelCNN) for moving digits on 2 CPU cores")
