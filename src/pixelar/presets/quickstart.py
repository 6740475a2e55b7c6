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
    at 3e-3 annealed geometrically to 1e-4 over the step budget (``lr_decay_steps``: 2,500 here, the
    quick start's budget; ``pixelar quickstart --steps N`` sets it to N), Polyak averaging 0.995,
    random horizontal flips; the quick start also permutes the training crops' R, G, B planes
    (``natural?permute_channels=true``): the six training photos are nearly grey, and without colour
    augmentation the model fails on the saturated test photo (5.721 -> 4.757 bits/dim at 2,000 steps)."""
    return Preset(model_class=PixelCNN,
                  model=PixelCNNConfig(image_channels=3, image_size=32, hidden=32, num_layers=6,
                                       output_features=128, distribution="logistic_mixture", num_mixtures=5),
                  train=TrainConfig(optimizer="adam", lr=3e-3, lr_decay=1.0, lr_final=1e-4, lr_decay_steps=2500, ema=0.995, batch_size=4,
                                    hflip=True, log_every=50, checkpoint_every=500),
                  dataset="natural?permute_channels=true", description="the quick start's model and recipe: pixelcnn/small, batch 4, EMA")
