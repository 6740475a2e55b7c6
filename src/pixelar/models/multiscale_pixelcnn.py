"""Parallel multiscale PixelCNN (Reed et al. 2017, "Parallel Multiscale Autoregressive Density Estimation").

The image pyramid: x_L = x (N, C, S, S); x_{k-1} = x_k[..., ::2, ::2] (sub-sampling of the uint8
image, not averaging) down to the base x_0 of size B×B. Then exactly

    log p(x) = log p(x_0) + Σ_{k=1..L} Σ_{g=2,3,4} log p(G_g(x_k) | G_1..G_{g-1}(x_k), cond)

because group 1 of x_k *is* x_{k-1} (and contains every lower scale). x_0 is modelled by a Gated
PixelCNN (models/multiscale_base.py; raster order, R→G→B with a softmax); every other group by an upscaling network
(nn/upscale.py, type A or B) that sees the earlier groups of its scale stacked as channels.
Groups are generated in parallel, so sampling takes O(B² + L·const) network evaluations:
O(log N) for N pixels (sampling/multiscale.py).

``network`` returns the parameters of every sub-pixel's conditional in one (N, P, S, S) tensor
(each factor's output put back at its pixels' positions), so log_prob, the trainer, evaluation
and per-pixel NLL maps work unchanged. The generation order is not raster: ``allowed_inputs``
tells the causality oracle which inputs each conditional may read.

Conditioning (``cond``): int64 labels (N,) when ``num_classes > 0``, or a dict with any of
``"label"`` (N,), ``"spatial"`` (N, spatial_channels, h, w) float maps (keypoint heat maps,
segmentation masks; resized to each scale), ``"text"`` (N, L) int64 character codes or a list
of strings (char-CNN + GRU, nn/text.py). A condition the config enables but ``cond`` omits is
the null condition (zero map / empty caption) - only class labels are required.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, PixelarError
from ..nn.text import CharCNNGRU, encode_text
from ..nn.upscale import UpscalerA, UpscalerB
from .base import AutoregressiveModel, ImageModelConfig
from .multiscale_base import build_base
from .multiscale_cond import EncodedCond, SpatialEncoder, random_crop

# (row, col) offset inside a 2×2 cell of groups 1..4 (Figure 2)
GROUP_OFFSETS = {1: (0, 0), 2: (0, 1), 3: (1, 0), 4: (1, 1)}


@dataclasses.dataclass(frozen=True)
class MultiscalePixelCNNConfig(ImageModelConfig):
    base_size: int = 8            # B: resolution modelled by the base PixelCNN (capped at image_size)
    # "gated": every PixelCNN (base and type-B patch nets) is a Gated PixelCNN, as §4.4 says;
    # "masked": pixelar's earlier blind-spot masked PixelCNNs (models/multiscale_base.py)
    pixelcnn: Literal["gated", "masked"] = "masked"
    base_hidden: int = 64         # base PixelCNN: h per gated stack ("masked": residual blocks carry 2h)
    base_layers: int = 6          # gated layers ("masked": mask-A layer + base_layers - 1 residual blocks)
    base_output_features: int = 128
    upscaler: Literal["A", "B"] = "B"
    hidden: int = 64              # units of every upscaling network
    num_resnet: int = 4           # residual 3×3 layers of each upscaler's ResNet
    num_pixelcnn: int = 2         # type B: layers of the shallow patch PixelCNN
    patch_size: int = 4           # type B: M (capped at the group's size)
    spatial_channels: int = 0     # > 0: spatial conditioning maps with this many channels
    spatial_resnet: int = 0       # > 0: maps go through a ResNet of this many layers (width ``hidden``) first
    # how the map (or its features) reaches every scale: "bilinear" (§4.2 "resized with bilinear
    # interpolation", the paper presets) or "area_bilinear" (area average when shrinking: pixelar's earlier)
    spatial_resize: Literal["bilinear", "area_bilinear"] = "area_bilinear"
    text_vocab: int = 0           # > 0: caption conditioning with this many character codes (0 = padding)
    text_conv: int = 2            # char-CNN convolutions of the caption encoder (§4.2: three)
    text_length: int = 0          # captions padded (and cut) to this many characters; 0 = the longest (§4.2: 201)
    text_shared_up_to: int = 0    # > 0: upscalers to sizes above this get their own text encoder (§4.2: 32)
    cond_dim: int = 64            # width of the class/text embedding
    # > 0: in training, every upscaler whose target is larger than train_crop learns on a random
    # train_crop×train_crop crop of its scale, conditioning cropped alike (§4.2, §4.4: 32); 0: full images.
    # Evaluation always scores the full image exactly.
    train_crop: int = 0
    #: config.from_dict: checkpoints written before these fields existed hold this model
    FIELDS_ADDED: ClassVar[dict[str, Any]] = {"pixelcnn": "masked", "spatial_resnet": 0, "text_conv": 2,
                                              "text_length": 0, "text_shared_up_to": 0, "train_crop": 0,
                                              "spatial_resize": "area_bilinear"}
    # Field defaults reproduce pixelar's earlier models (so their checkpoints load); presets set the paper's values.

    def validate(self) -> None:
        super().validate()
        if self.base_size < 1:
            raise ConfigError(f"base_size must be >= 1, got {self.base_size}")
        ratio = self.image_size / self.effective_base
        if ratio != int(ratio) or int(ratio) & (int(ratio) - 1):
            raise ConfigError(f"image_size ({self.image_size}) must be base_size ({self.base_size}) times a "
                              "power of two: the pyramid halves the resolution at every scale")
        if min(self.base_hidden, self.hidden) < self.image_channels:
            raise ConfigError(f"base_hidden and hidden must be >= image_channels ({self.image_channels}) "
                              "for channel masking")
        if self.base_layers < 1 or self.num_resnet < 0 or self.num_pixelcnn < 1 or self.patch_size < 1:
            raise ConfigError("base_layers, num_pixelcnn and patch_size must be >= 1 and num_resnet >= 0")
        if self.upscaler == "B":
            for h in self.sizes()[:-1]:
                if h % min(self.patch_size, h):
                    raise ConfigError(f"type B cuts each {h}x{h} group into {self.patch_size}x{self.patch_size} "
                                      "patches: choose a patch_size dividing every group size")
        if min(self.spatial_channels, self.text_vocab) < 0 or (self.text_vocab == 1):
            raise ConfigError("spatial_channels must be >= 0 and text_vocab 0 or >= 2")
        if min(self.spatial_resnet, self.text_length, self.text_shared_up_to) < 0 or self.text_conv < 1:
            raise ConfigError("spatial_resnet, text_length and text_shared_up_to must be >= 0 and text_conv >= 1")
        # a crop starts on the 2×2 group grid, and with type B on the M×M patch grid of its groups
        align = 2 * self.patch_size if self.upscaler == "B" else 2
        if self.train_crop < 0 or self.train_crop % align:
            raise ConfigError(f"train_crop must be 0 (off) or a positive multiple of {align} (2 x patch_size "
                              f"for type B, else 2), got {self.train_crop}")

    @property
    def effective_base(self) -> int:
        return min(self.base_size, self.image_size)

    def sizes(self) -> list[int]:
        """Side of every scale, base first: [B, 2B, ..., image_size]."""
        return [self.effective_base * 2 ** k
                for k in range(round(math.log2(self.image_size / self.effective_base)) + 1)]


class MultiscalePixelCNN(AutoregressiveModel):
    name = "multiscale_pixelcnn"
    config_class = MultiscalePixelCNNConfig
    ordering = "multiscale"
    group_sampler = "multiscale"   # pixelar.sampling.multiscale: O(log N) network evaluations
    can_upscale = True

    def __init__(self, config: MultiscalePixelCNNConfig) -> None:
        super().__init__(config)
        cfg, C, P, g = config, config.image_channels, self.distribution.num_params, self.num_groups
        self.sizes = cfg.sizes()
        spatial = cfg.hidden if (cfg.spatial_channels and cfg.spatial_resnet) else cfg.spatial_channels
        self.base = build_base(cfg, P, g, spatial)
        self.class_embedding = nn.Embedding(cfg.num_classes, cfg.cond_dim) if cfg.num_classes else None
        self.spatial_encoder = (SpatialEncoder(cfg.spatial_channels, cfg.hidden, cfg.spatial_resnet)
                                if cfg.spatial_channels and cfg.spatial_resnet else None)

        def text_encoder() -> CharCNNGRU:
            return CharCNNGRU(cfg.text_vocab, cfg.cond_dim, cfg.cond_dim, num_conv=cfg.text_conv)
        # one encoder for the base and the upscalers up to text_shared_up_to, one per scale above it
        self.text_encoder = text_encoder() if cfg.text_vocab else None
        self.own_text_scales = [k for k, s in enumerate(self.sizes) if k and cfg.text_vocab
                                and cfg.text_shared_up_to and s > cfg.text_shared_up_to]
        self.scale_text_encoders = nn.ModuleList(text_encoder() for _ in self.own_text_scales)
        has_vec = bool(cfg.num_classes or cfg.text_vocab)
        self.upscalers = nn.ModuleList()
        self.vec_proj = nn.ModuleList()
        for _ in self.sizes[1:]:
            level = nn.ModuleList()
            for grp in (2, 3, 4):
                ctx = (grp - 1) * C + 4 * spatial   # earlier groups + the map's 4 sub-lattices
                if cfg.upscaler == "A":
                    level.append(UpscalerA(ctx, C, P, cfg.hidden, cfg.num_resnet, g))
                else:
                    level.append(UpscalerB(ctx, C, P, cfg.hidden, cfg.num_resnet, cfg.num_pixelcnn,
                                           cfg.patch_size, g, gated=cfg.pixelcnn == "gated"))
            self.upscalers.append(level)
            self.vec_proj.append(nn.ModuleList(nn.Linear(cfg.cond_dim, cfg.hidden) for _ in range(3))
                                 if has_vec else nn.ModuleList())

    # ---- conditioning ---------------------------------------------------------------------
    def condition(self, batch: Mapping[str, Any]) -> dict[str, Any] | None:
        """{"label", "spatial", "text"} from a data batch, each one the config enables; a data set
        lacking one the model is conditioned on is an error (never a silent null condition)."""
        c = self.config
        wanted = {"label": ("label", c.num_classes), "spatial": ("spatial", c.spatial_channels),
                  "text": ("caption", c.text_vocab)}
        out = {}
        for key, (field, enabled) in wanted.items():
            if not enabled:
                continue
            if batch.get(field) is None:
                raise PixelarError(f"{self.name} is conditioned on '{field}' ({key}), but the data has none: "
                                   f"give the data set a '{field}' array (an npz's {{split}}_{field}"
                                   f"{'s' if field == 'caption' else ''} key)")
            out[key] = batch[field]
        return out or None

    def random_condition(self, n: int, generator: torch.Generator | None = None) -> dict[str, Any] | None:
        c = self.config
        out: dict[str, Any] = {}
        if c.num_classes:
            out["label"] = torch.randint(0, c.num_classes, (n,), generator=generator)
        if c.spatial_channels:
            s = c.image_size
            out["spatial"] = torch.rand(n, c.spatial_channels, s, s, generator=generator)
        if c.text_vocab:
            letters = torch.randint(97, 123, (n, 12), generator=generator)
            out["text"] = ["".join(map(chr, row.tolist())) for row in letters]
        return out or None

    def _cond_dict(self, cond: Any) -> dict[str, Any]:
        if cond is None:
            return {}
        if isinstance(cond, dict):
            unknown = set(cond) - {"label", "spatial", "text"}
            if unknown:
                raise ValueError(f"unknown cond key(s) {sorted(unknown)}; use 'label', 'spatial', 'text'")
            return cond
        if isinstance(cond, (list, tuple)):
            return {"text": cond}
        if not torch.is_tensor(cond):
            raise ValueError(f"cond must be a tensor, a dict or a list of captions, got {type(cond).__name__}")
        if cond.is_floating_point():
            return {"spatial": cond}
        return {"label": cond} if self.config.num_classes or not self.config.text_vocab else {"text": cond}

    def check_input(self, x: torch.Tensor, cond: Any) -> None:
        d = self._cond_dict(cond)
        super().check_input(x, d.get("label"))
        c = self.config
        if "spatial" in d:
            m = d["spatial"]
            if not c.spatial_channels or m.dim() != 4 or m.shape[:2] != (x.shape[0], c.spatial_channels):
                raise ValueError(f"cond['spatial'] must be (N, {c.spatial_channels}, h, w) float maps "
                                 f"(spatial_channels={c.spatial_channels}), got {tuple(m.shape)}")
        if "text" in d:
            if not c.text_vocab:
                raise ValueError("this model has no text encoder (text_vocab=0)")
            if len(d["text"]) != x.shape[0]:
                raise ValueError(f"need one caption per image: {len(d['text'])} for {x.shape[0]} images")

    def encode(self, cond: Any, n: int, device: torch.device) -> EncodedCond:
        """Run the class embedding, text encoder(s) and spatial encoder once; maps are resized per scale later."""
        d, c = self._cond_dict(cond), self.config
        label = None
        if self.class_embedding is not None and d.get("label") is not None:
            label = self.class_embedding(d["label"].to(device))
        vec, scale_vecs = label, {}
        if self.text_encoder is not None:
            text = d.get("text")
            if text is None:
                text = torch.zeros(n, c.text_length or 1, dtype=torch.long)   # the empty caption
            elif not torch.is_tensor(text):
                text = encode_text(list(text), c.text_vocab, length=c.text_length or None)
            text = text.to(device)

            def add(t: torch.Tensor) -> torch.Tensor:
                return t if label is None else label + t
            vec = add(self.text_encoder(text))
            scale_vecs = {k: add(e(text)) for k, e in zip(self.own_text_scales, self.scale_text_encoders)}
        spatial = d.get("spatial")
        if spatial is not None:
            spatial = spatial.to(device).float()
            if self.spatial_encoder is not None:
                spatial = self.spatial_encoder(spatial)                      # (N, hidden, h, w)
        return EncodedCond(vec, spatial, scale_vecs, self.config.spatial_resize)

    # ---- factors ----------------------------------------------------------------------------
    def stride(self, k: int) -> int:
        """Full-resolution pixels between neighbours of scale k."""
        return self.config.image_size // self.sizes[k]

    def group_features(self, k: int, grp: int, earlier: list[torch.Tensor], enc: EncodedCond) -> torch.Tensor:
        """ResNet features for group ``grp`` (2..4) of scale k >= 1 from groups 1..grp-1 (each (N, C, h, w)).

        The spatial map (covering the same area as the groups) is resized to 2h × 2h."""
        parts = list(earlier)
        if enc.spatial is not None:
            # the map at this scale (2h × 2h), cut into the four group lattices: (N, 4S, h, w)
            parts.append(F.pixel_unshuffle(enc.spatial_at(2 * earlier[0].shape[-1]), 2))
        elif self.config.spatial_channels:
            width = self.config.hidden if self.spatial_encoder is not None else self.config.spatial_channels
            parts.append(earlier[0].new_zeros(earlier[0].shape[0], 4 * width, *earlier[0].shape[2:]))
        v = enc.vec_at(k)
        vec = self.vec_proj[k - 1][grp - 2](v) if v is not None and len(self.vec_proj[k - 1]) else None
        return self.upscalers[k - 1][grp - 2].features(torch.cat(parts, 1), vec)

    @staticmethod
    def pyramid_levels(x: torch.Tensor, num_scales: int) -> list[torch.Tensor]:
        """[x_0 (base), ..., x_L = x]: each scale sub-sampled from the next (group 1 of the next scale)."""
        levels = [x]
        for _ in range(num_scales):
            levels.insert(0, levels[0][..., ::2, ::2])
        return levels

    def group_params(self, k: int, level: torch.Tensor, enc: EncodedCond) -> list[torch.Tensor]:
        """[params (N, P, s/2, s/2) of groups 2, 3, 4] of scale k >= 1 for ``level`` (N, C, s, s) in [-1, 1]
        (the scale's image, or a crop of it on the group grid)."""
        n, c, s, _ = level.shape
        groups = F.pixel_unshuffle(level, 2).view(n, c, 4, s // 2, s // 2).unbind(2)   # groups 1..4
        return [self.upscalers[k - 1][grp - 2].head(self.group_features(k, grp, list(groups[:grp - 1]), enc),
                                                    groups[grp - 1]) for grp in (2, 3, 4)]

    def pyramid_params(self, levels: list[torch.Tensor], enc: EncodedCond) -> torch.Tensor:
        """Params (N, P, s, s) of every pixel of the top of ``levels`` ([x_0, ..., x_k], in [-1, 1])."""
        params = self.base(levels[0], enc)                           # (N, P, B, B)
        for k in range(1, len(levels)):
            # group 1's params are the lower scales'; interleave the four (N, P, s/2, s/2) groups into (N, P, s, s)
            p = torch.stack([params, *self.group_params(k, levels[k], enc)], 2).flatten(1, 2)
            params = F.pixel_shuffle(p, 2)
        return params

    def network(self, x: torch.Tensor, cond: Any) -> torch.Tensor:
        """x (N, C, S, S) in [-1, 1] -> params (N, P, S, S): each pixel's conditional at its own position."""
        enc = self.encode(cond, x.shape[0], x.device)
        return self.pyramid_params(self.pyramid_levels(x, len(self.sizes) - 1), enc)

    # ---- training loss: random crops at the large scales ----------------------------------------
    def crop_scales(self) -> list[int]:
        """Scales k whose upscalers train on random ``train_crop`` crops (target size > train_crop)."""
        crop = self.config.train_crop
        return [k for k, s in enumerate(self.sizes) if k and crop and s > crop]

    def training_output(self, x: torch.Tensor, cond: Any, generator: torch.Generator) -> Any:
        """Reed et al. §4.4: "At scales 64×64 and above, during training we randomly cropped the image to
        32×32"; §4.2: the conditioning features "are randomly cropped along with the target image".

        With ``train_crop`` = T and scales above T: [(params, target, weight), ...], where the first term is
        the exact likelihood of the scales up to T (base + upscalers, on the whole sub-sampled image), and
        then, for every scale k of side s > T, the three group terms of one random T×T window of x_k (the
        same window for the batch, on the group and patch grid, drawn from ``generator``); the spatial
        map is resized to s×s and cut at the same window. Weight (s/T)²: the crop's nats times the number
        of windows that tile the scale, an unbiased estimate of the scale's nats up to the crop's borders
        (text silent on the weighting: our choice, so that train bits/dim estimate the full figure).
        Without such scales: the exact parameters, as every other model."""
        scales = self.crop_scales()
        if not scales:
            return super().training_output(x, cond, generator)
        self.check_input(x, cond)
        c = self.config
        enc = self.encode(cond, x.shape[0], x.device)
        ints = self.pyramid_levels(x.long(), len(self.sizes) - 1)
        low = scales[0] - 1                                          # the largest scale trained whole
        terms = [(self.pyramid_params([self.scale_input(v) for v in ints[:low + 1]], enc), ints[low], 1.0)]
        align = 2 * c.patch_size if c.upscaler == "B" else 2        # on the patch grid of test time
        for k in scales:
            s = self.sizes[k]
            spatial = enc.spatial_at(s)
            crop, spatial = random_crop(ints[k], c.train_crop, generator, spatial, align)
            enc_k = dataclasses.replace(enc, spatial=spatial)
            n, ch, t, _ = crop.shape
            targets = F.pixel_unshuffle(crop.float(), 2).view(n, ch, 4, t // 2, t // 2).long().unbind(2)
            weight = (s / c.train_crop) ** 2
            for grp, params in zip((2, 3, 4), self.group_params(k, self.scale_input(crop), enc_k)):
                terms.append((params, targets[grp - 1], weight))
        return terms

    def training_nll(self, output: Any, x: torch.Tensor) -> torch.Tensor:
        """(N,) nats: -Σ weight · log p(target | params) over :meth:`training_output`'s terms, or the exact
        NLL when it returned the parameters."""
        if torch.is_tensor(output):
            return super().training_nll(output, x)
        return -sum(w * self.distribution.log_prob(p, t) for p, t, w in output)

    # ---- ordering ---------------------------------------------------------------------------
    def factor_of(self, i: int, j: int) -> tuple[int, int, int, int]:
        """(scale k, group g, row, col in the group's lattice) of full-resolution pixel (i, j); g = 1 at the base."""
        for k in range(len(self.sizes)):
            st = self.stride(k)
            if i % st == 0 and j % st == 0:
                if k == 0:
                    return 0, 1, i // st, j // st
                di, dj = (i // st) % 2, (j // st) % 2
                grp = {v: g for g, v in GROUP_OFFSETS.items()}[(di, dj)]
                return k, grp, i // st // 2, j // st // 2
        raise AssertionError("unreachable: the top scale has stride 1")

    def allowed_inputs(self, c: int, i: int, j: int) -> torch.Tensor:
        """(C, H, W) bool: the inputs the conditional of sub-pixel (c, i, j) may depend on.

        Base pixel: the base pixels before it in raster order. Group g of scale k: every pixel
        of scales < k (group 1), groups 2..g-1 of scale k, and with type B the pixels of its own
        M×M patch before it in raster order. Plus channels < c of (i, j) under R→G→B.
        """
        C, H, W = self.image_shape
        allowed = torch.zeros(C, H, W, dtype=torch.bool)
        k, grp, a, b = self.factor_of(i, j)
        st = self.stride(k)
        if k == 0:
            before = torch.zeros(self.sizes[0] ** 2, dtype=torch.bool)
            before[: a * self.sizes[0] + b] = True                   # raster order over the base
            allowed[:, ::st, ::st] = before.view(self.sizes[0], self.sizes[0])
        else:
            allowed[:, :: 2 * st, :: 2 * st] = True
            for g2 in range(2, grp):
                di, dj = GROUP_OFFSETS[g2]
                allowed[:, di * st:: 2 * st, dj * st:: 2 * st] = True
            up = self.upscalers[k - 1][grp - 2]
            if up.patchwise:
                m = up.patch_size(self.sizes[k - 1])
                di, dj = GROUP_OFFSETS[grp]
                a0, b0 = a - a % m, b - b % m
                for q in range(m * m):
                    qa, qb = a0 + q // m, b0 + q % m
                    if (qa, qb) == (a, b):
                        break
                    allowed[:, (2 * qa + di) * st, (2 * qb + dj) * st] = True
        if self.distribution.autoregressive_channels:
            allowed[:c, i, j] = True
        return allowed

    def positions(self) -> list[tuple[int, int]]:
        """A raster-free generation order consistent with the factorization (base raster, then each
        scale's groups 2, 3, 4; type B: patch position by patch position). The naive sampler can
        follow it one pixel at a time; the multiscale sampler draws whole groups at once."""
        out = [(a * self.stride(0), b * self.stride(0)) for a in range(self.sizes[0]) for b in range(self.sizes[0])]
        for k in range(1, len(self.sizes)):
            st, h = self.stride(k), self.sizes[k - 1]
            for grp in (2, 3, 4):
                di, dj = GROUP_OFFSETS[grp]
                up = self.upscalers[k - 1][grp - 2]
                m = up.patch_size(h) if up.patchwise else 1
                cells = sorted(((a, b) for a in range(h) for b in range(h)),
                               key=lambda t: ((t[0] % m) * m + t[1] % m, t[0], t[1]))
                out += [((2 * a + di) * st, (2 * b + dj) * st) for a, b in cells]
        return out

    # ---- evaluation by scale ----------------------------------------------------------------
    def scale_masks(self) -> dict[str, torch.Tensor]:
        """{"8x8": (H, W) bool, ...}: the pixels each scale adds (the base: all of its pixels)."""
        H = self.config.image_size
        masks, seen = {}, torch.zeros(H, H, dtype=torch.bool)
        for k, s in enumerate(self.sizes):
            m = torch.zeros(H, H, dtype=torch.bool)
            m[:: self.stride(k), :: self.stride(k)] = True
            masks[f"{s}x{s}"] = m & ~seen
            seen |= m
        return masks

    def part_dims(self) -> dict[str, int]:
        """Sub-pixels each scale adds: the base's, then every doubling's groups 2-4."""
        c = self.image_shape[0]
        return {name: c * int(m.sum()) for name, m in self.scale_masks().items()}

    def log_prob_parts(self, x: torch.Tensor, cond: Any = None) -> dict[str, torch.Tensor]:
        """Nats per image (N,) of each scale's factors: the base, then groups 2-4 of every doubling.

        They sum to ``log_prob(x, cond)`` exactly (up to float summation order).
        """
        lp = self.log_prob_elementwise(x, cond)                      # (N, C, H, W)
        return {name: lp[:, :, m.to(lp.device)].sum((1, 2)) for name, m in self.scale_masks().items()}

    def upscaler_log_prob(self, x: torch.Tensor, cond: Any = None) -> torch.Tensor:
        """Nats (N,) of groups 2-4 at every scale of a crop x (N, C, s, s) of a full-resolution image.

        The upscalers are fully convolutional, so a crop whose top-left corner is a multiple of
        2^(scales in the crop) is scored by the top scale's networks, its sub-sampling by the next, ...
        (use :func:`pixelar.models.multiscale_pixelcnn.random_crop`). Spatial maps must be cropped alike.
        """
        enc = self.encode(cond, x.shape[0], x.device)
        total = x.new_zeros(x.shape[0], dtype=torch.float32)
        k, cur_int = len(self.sizes) - 1, x.long()
        while k >= 1 and cur_int.shape[-1] >= 2:
            n, c, s, _ = cur_int.shape
            targets = F.pixel_unshuffle(cur_int.float(), 2).view(n, c, 4, s // 2, s // 2).long().unbind(2)
            for grp, params in zip((2, 3, 4), self.group_params(k, self.scale_input(cur_int), enc)):
                total = total + self.distribution.log_prob(params, targets[grp - 1])
            cur_int, k = cur_int[..., ::2, ::2], k - 1
        return total

    def output_layer(self) -> nn.Module:
        """Every factor's last layer (zeroing them all gives the uniform model)."""
        return nn.ModuleList([self.base.out2] + [up.output_layer() for level in self.upscalers for up in level])
