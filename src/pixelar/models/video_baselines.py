"""The two reference rows of Reed et al. 2017 Table 2 and Table 4 beside the O(T) and O(T log N) models.

Both share :class:`~pixelar.models.video_pixelcnn.VideoModel`: the filmstrip layout, the condition
(context frames, actions, state) and the ConvLSTM frame encoder whose state h_{t-1} (stacked with
frame t-1's pixels, ``EncoderState.condition``) every factor of frame t reads at every position.
They differ only inside a frame:

* :class:`VideoPixelCNNOTBaseline` (``video_pixelcnn_ot_baseline``): Table 2's "O(T) baseline - a
  convolutional LSTM model without spatial dependencies". Every pixel of frame t is independent
  given the past: a ResNet over h_{t-1} at the frame's resolution and a 1×1 head (the type-A
  upscaler of nn/upscale.py with h as its whole context), so **one network evaluation gives the
  whole frame's distribution** (with a per-sub-pixel softmax for RGB the head runs once per channel,
  R→G→B inside a pixel, as in the O(T) model). Output: the O(T) model's discretized logistic mixture
  (whose linear R→G→B coefficients still couple a pixel's own channels). Text silent on the
  baseline's layers: our choice (the O(T) model's group-1 network, at full resolution).
* :class:`VideoPixelCNNOTN` (``video_pixelcnn_otn``): the O(TN) model, "the original VPN"
  (Kalchbrenner et al. 2016b), a per-pixel autoregressive frame model. pixelar's Gated PixelCNN
  (models/gated_pixelcnn.py) with h_{t-1} as its spatial condition (eq. 5: a 1×1 convolution of
  the map added to every layer's gated pre-activations, as the multiscale base takes its spatial
  map), raster order inside the frame, R→G→B inside a pixel with a softmax. Sampled pixel by
  pixel with the Gated PixelCNN's cached sampler (gated_pixelcnn_cached.py, which takes the map):
  S² (·C) cached steps per frame. Text silent here (Reed et al. quote the VPN's figures; the VPN's
  decoder is a PixelCNN of multiplicative units): the Gated PixelCNN stands in for it, our choice.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..nn.upscale import UpscalerA
from .gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from .video_pixelcnn import VideoModel, VideoPixelCNNConfig


@dataclasses.dataclass(frozen=True)
class VideoPixelCNNOTBaselineConfig(VideoPixelCNNConfig):
    """``hidden``/``num_resnet``: the width and residual layers of the frame network."""


class VideoPixelCNNOTBaseline(VideoModel):
    """The O(T) baseline: each frame's pixels independent given h_{t-1} (one network evaluation per frame)."""

    name = "video_pixelcnn_ot_baseline"
    config_class = VideoPixelCNNOTBaselineConfig
    frame_sampler = "independent"

    def __init__(self, config: VideoPixelCNNOTBaselineConfig) -> None:
        super().__init__(config)
        c = config
        # the context is h_{t-1} alone: (encoder_hidden + C) channels at the frame's resolution
        self.frame_net = UpscalerA(c.encoder_hidden + c.image_channels, c.image_channels,
                                   self.distribution.num_params, c.hidden, c.num_resnet, self.num_groups)

    def frame_features(self, h: torch.Tensor) -> torch.Tensor:
        """h (B, hidden_enc + C, S, S) -> ResNet features (B, hidden, S, S): what every pixel of the frame reads."""
        return self.frame_net.features(h, None)

    def frame_network(self, frames: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        # the head reads the frame itself only through its channel masks (R→G→B inside a pixel)
        return self.frame_net.head(self.frame_features(h), frames)

    def frame_allowed(self, c: int, i: int, j: int) -> torch.Tensor:
        C, S = self.config.image_channels, self.config.image_size
        allowed = torch.zeros(C, S, S, dtype=torch.bool)
        if self.distribution.autoregressive_channels:
            allowed[:c, i, j] = True
        return allowed

    def frame_positions(self) -> list[tuple[int, int]]:
        """Raster order (any order is the same factorization: the pixels are independent)."""
        S = self.config.image_size
        return [(i, j) for i in range(S) for j in range(S)]

    def output_layer(self) -> nn.Module:
        return self.frame_net.output_layer()


@dataclasses.dataclass(frozen=True)
class VideoPixelCNNOTNConfig(VideoPixelCNNConfig):
    """The frame Gated PixelCNN's fields (see GatedPixelCNNConfig); ``hidden`` is its width per stack.
    ``num_resnet`` is not used (the frame model has no upscaler)."""
    num_layers: int = 8
    first_kernel: int = 7
    kernel: int = 3
    output_features: int = 256

    def frame_config(self) -> GatedPixelCNNConfig:
        return GatedPixelCNNConfig(image_channels=self.image_channels, image_size=self.image_size,
                                   num_levels=self.num_levels, distribution=self.distribution,
                                   num_mixtures=self.num_mixtures, hidden=self.hidden, num_layers=self.num_layers,
                                   first_kernel=self.first_kernel, kernel=self.kernel,
                                   output_features=self.output_features)

    def validate(self) -> None:
        super().validate()
        self.frame_config().validate()


class VideoPixelCNNOTN(VideoModel):
    """The O(TN) model: a Gated PixelCNN for every frame, h_{t-1} as its spatial condition."""

    name = "video_pixelcnn_otn"
    config_class = VideoPixelCNNOTNConfig
    frame_sampler = "pixels"

    def __init__(self, config: VideoPixelCNNOTNConfig) -> None:
        super().__init__(config)
        self.frame_model = GatedPixelCNN(config.frame_config(),
                                         spatial_channels=config.encoder_hidden + config.image_channels)

    def frame_network(self, frames: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.frame_model.network(frames, None, spatial=h)

    def frame_allowed(self, c: int, i: int, j: int) -> torch.Tensor:
        return self.frame_model.allowed_inputs(c, i, j)

    def frame_positions(self) -> list[tuple[int, int]]:
        return self.frame_model.positions()

    def output_layer(self) -> nn.Module:
        return self.frame_model.output_layer()
