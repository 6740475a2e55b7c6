"""The quick-start recipe (``pixelar quickstart``, docs/quickstart.md): the small PixelCNN with a
logistic-mixture head, trained with small batches so that a few minutes of 2 CPU cores give many
updates. No paper speaks to it: every number here was chosen by step-budgeted runs on the built-in
natural patches (docs/quickstart.md lists them)."""
from __future__ import annotations

from ..models.pixelcnn import PixelCNN, PixelCNNConfig
from ..training.config import TrainConfig
from . import Preset, preset


@preset
def pixelcnn_quickstart() -> Preset:
    """pixelcnn/small's network; batch 4 (4x the updates of batch 16 for the same compute), Adam
    2e-3 decayed by 0.99985 per step (x0.74 at 2,000 steps, x0.55 at 4,000), Polyak averaging 0.995,
    random horizontal flips; the quick start also permutes the training crops' R, G, B planes
    (``natural?permute_channels=true``): the six training photos are nearly grey, and without colour
    augmentation the model fails on the saturated test photo (5.721 -> 4.757 bits/dim at 2,000 steps)."""
    return Preset(model_class=PixelCNN,
                  model=PixelCNNConfig(image_channels=3, image_size=32, hidden=32, num_layers=6,
                                       output_features=128, distribution="logistic_mixture", num_mixtures=5),
                  train=TrainConfig(optimizer="adam", lr=2e-3, lr_decay=0.99985, ema=0.995, batch_size=4,
                                    hflip=True, log_every=50, checkpoint_every=500),
                  dataset="natural?permute_channels=true", description="the quick start's model and recipe: pixelcnn/small, batch 4, EMA")
