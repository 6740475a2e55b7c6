"""Video sampling (Reed et al. 2017 §4.3): frame after frame, each frame by the model's frame sampler.

1. The ConvLSTM runs over the K context frames once (``model.encoder_begin``).
2. For every predicted frame: its factors read the encoder state h of the frames before it, so the
   frame is drawn by the model's frame sampler (``model.frame_sampler``):

   - ``"groups"`` (O(T) model): groups 1, 2, 3, 4 in turn at the frame's resolution, all pixels of a
     group at once: per group one ResNet call and one head call per draw step (1 with a logistic
     mixture, C with a softmax) - a constant number of network evaluations per frame, whatever its size;
   - ``"multiscale"`` (O(T log N) model): the multiscale group sampler of ``sampling/multiscale.py``
     with h as the spatial condition - O(log N) evaluations per frame;
   - ``"independent"`` (O(T) baseline): every pixel of the frame at once from one evaluation of the
     frame network (C head calls with an RGB softmax, R→G→B; one with a logistic mixture);
   - ``"pixels"`` (O(TN) model): the frame's Gated PixelCNN pixel by pixel in raster order, with its
     cached sampler (``sampling/cached.py``) holding h as the spatial condition - S² (·C) steps per frame.

3. The encoder takes one step on the finished frame (``model.encoder_advance``), giving the next
   frame's condition: the cost of the encoder is one step per frame.

Known sub-pixels (prediction keeps the given frames; completion keeps what is given inside a frame)
are never changed and consume no random numbers.

The video upscalers (``models/video_upscaler.py``, §4.3's 64 -> 128 and 128 -> 256 networks) draw one
high-resolution frame given its low-resolution version (group 1) and the previous high-resolution frame:
groups 2, 3, 4 in turn, each in parallel (3 ResNet calls per frame). :func:`upscale_video` runs them
frame after frame over a clip, each frame conditioned on the one it just produced.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from tqdm import tqdm

from ..errors import PixelarError
from .cached import fill_cached
from .multiscale import _groups, sample_multiscale
from .naive import check_known


def _fill_groups(model: Any, xf: torch.Tensor, kf: torch.Tensor, groups: tuple[int, ...], context: torch.Tensor,
                 generator: torch.Generator | None, temperature: float, options: dict) -> None:
    """Fill ``groups`` of frame xf (N, C, S, S) int64 (a writable view) where kf is False, in order:
    group g's upscaler reads groups 1..g-1 of the frame and ``context`` (one ResNet call per group),
    then its head draws the group's sub-pixels (once, or once per channel)."""
    dist = model.distribution
    xg, kg = _groups(xf), _groups(kf)
    for grp in groups:
        target, tknown = xg[grp - 1], kg[grp - 1]                   # (N, C, S/2, S/2) views
        if tknown.all():
            continue
        up = model.upscalers[grp - groups[0]]
        feat = model.group_features(grp, [model.scale_input(g) for g in xg[:grp - 1]], context)
        for _, _, ch in up.steps(target.shape[-1]):
            chans = slice(None) if ch is None else slice(ch, ch + 1)
            todo = ~tknown[:, chans]
            if not todo.any():
                continue
            params = up.head(feat, model.scale_input(target))        # (N, P, S/2, S/2)
            drawn = dist.sample(params, generator=generator, temperature=temperature, channel=ch, **options)
            target[:, chans] = torch.where(todo, drawn, target[:, chans])


def _frame_groups(model: Any, xf: torch.Tensor, kf: torch.Tensor, h: torch.Tensor,
                  generator: torch.Generator | None, temperature: float, options: dict) -> None:
    """Fill frame xf (N, C, S, S) int64 (a writable view) where kf is False: groups 1..4 of the O(T) model."""
    _fill_groups(model, xf, kf, (1, 2, 3, 4), h, generator, temperature, options)


def _frame_multiscale(model: Any, xf: torch.Tensor, kf: torch.Tensor, h: torch.Tensor,
                      generator: torch.Generator | None, temperature: float, options: dict) -> None:
    """Fill frame xf where kf is False with the O(T log N) model's multiscale frame model."""
    out = sample_multiscale(model.frame_model, xf, kf, cond={"spatial": h}, generator=generator,
                            temperature=temperature, **options)
    xf.copy_(out.long())


def _frame_independent(model: Any, xf: torch.Tensor, kf: torch.Tensor, h: torch.Tensor,
                       generator: torch.Generator | None, temperature: float, options: dict) -> None:
    """Fill frame xf where kf is False with the O(T) baseline: one ResNet pass over h, then the head once
    per draw step (all channels at once with a logistic mixture, else R, G, B in turn)."""
    feat = model.frame_features(h)                                   # (N, hidden, S, S)
    for _, _, ch in model.frame_net.steps(xf.shape[-1]):
        chans = slice(None) if ch is None else slice(ch, ch + 1)
        todo = ~kf[:, chans]
        if not todo.any():
            continue
        params = model.frame_net.head(feat, model.scale_input(xf))  # (N, P, S, S): every pixel of the frame
        drawn = model.distribution.sample(params, generator=generator, temperature=temperature, channel=ch,
                                          **options)
        xf[:, chans] = torch.where(todo, drawn, xf[:, chans])


def _frame_pixels(model: Any, xf: torch.Tensor, kf: torch.Tensor, h: torch.Tensor,
                  generator: torch.Generator | None, temperature: float, options: dict) -> None:
    """Fill frame xf where kf is False with the O(TN) model: the cached Gated PixelCNN loop, h its spatial
    condition. It draws exactly as the naive loop over the frame's positions does (same generator calls)."""
    state = model.frame_model.incremental(xf.shape[0], None, spatial=h)
    fill_cached(model.frame_model, state, xf, kf, generator, temperature, False, options)


FRAME_SAMPLERS: dict[str, Callable[..., None]] = {"groups": _frame_groups, "multiscale": _frame_multiscale,
                                                  "independent": _frame_independent, "pixels": _frame_pixels}


def _fill_frames(model: Any, x: torch.Tensor, known: torch.Tensor, cond: Any, num_frames: int,
                 generator: torch.Generator | None, temperature: float, progress: bool, options: dict) -> None:
    """Fill predicted frames 0..num_frames-1 of the strip x (N, C, F·S, S) int64 in place."""
    vc = model.video_condition(cond, x.shape[0], x.device)
    S = model.config.image_size
    frame = FRAME_SAMPLERS[model.frame_sampler]
    state = model.encoder_begin(vc)
    for f in tqdm(range(num_frames), desc="sampling frames", disable=not progress, leave=False):
        xf, kf = x[:, :, f * S:(f + 1) * S], known[:, :, f * S:(f + 1) * S]
        if not kf.all():
            frame(model, xf, kf, state.condition(), generator, temperature, options)
        if f < num_frames - 1:
            state = model.encoder_advance(state, model.scale_input(xf), f, vc)


@torch.no_grad()
def sample_video(model: Any, x: torch.Tensor, known: torch.Tensor, cond: Any = None,
                 generator: torch.Generator | None = None, temperature: float = 1.0,
                 progress: bool = False, **options: object) -> torch.Tensor:
    """Fill the unknown sub-pixels of the strip x (N, C, F·S, S) of predicted frames; (N, C, F·S, S) uint8.

    ``cond``: the context frames, actions and state (``VideoModel.video_condition``)."""
    check_known(model, known)
    x = torch.where(known, x.long(), 0)        # unknown garbage never reaches a network
    _fill_frames(model, x, known, cond, model.num_predicted, generator, temperature, progress, options)
    return x.to(torch.uint8)


def _upscale_groups(model: Any, x: torch.Tensor, known: torch.Tensor, previous: torch.Tensor,
                    generator: torch.Generator | None, temperature: float, options: dict) -> None:
    """Fill groups 2, 3, 4 of frame x (N, C, S, S) int64 in place where ``known`` is False; group 1 is
    final. ``previous`` (N, C, S, S) int64: the previous high-resolution frame."""
    _fill_groups(model, x, known, (2, 3, 4), model.scale_previous(previous), generator, temperature, options)


@torch.no_grad()
def sample_upscaler(model: Any, x: torch.Tensor, known: torch.Tensor, cond: Any = None,
                    generator: torch.Generator | None = None, temperature: float = 1.0,
                    progress: bool = False, **options: object) -> torch.Tensor:
    """The video upscaler's canvas sampler: fill the unknown sub-pixels of frames x (N, C, S, S); (N, C, S, S) uint8.

    Group 1 is the low-resolution frame: ``cond["low"]`` (N, C, S/2, S/2) is written into it (as known
    pixels; a known group-1 pixel that disagrees is an error), or it must be entirely known already.
    ``cond["previous"]``: the previous high-resolution frame (missing: a zero frame)."""
    check_known(model, known)
    uc = model.upscale_condition(cond, x.shape[0], x.device)
    x = torch.where(known, x.long(), 0)        # unknown garbage never reaches a network
    known = known.clone()
    if uc.low is not None:
        given = known[..., ::2, ::2]
        if (given & (x[..., ::2, ::2] != uc.low)).any():
            raise PixelarError("known group-1 pixels (x[..., ::2, ::2]) differ from cond['low']: the low-resolution "
                               "frame is group 1 of the high-resolution one")
        x[..., ::2, ::2] = uc.low
        known[..., ::2, ::2] = True
    elif not known[..., ::2, ::2].all():
        raise PixelarError(f"{model.name} upscales a given low-resolution frame: pass cond['low'] "
                           "(N, C, S/2, S/2), or mark group 1 (x[..., ::2, ::2]) as known")
    _upscale_groups(model, x, known, uc.previous, generator, temperature, options)
    return x.to(torch.uint8)


@torch.no_grad()
def upscale_video(model: Any, low_clip: torch.Tensor, first_frame: torch.Tensor,
                  generator: torch.Generator | None = None, temperature: float = 1.0,
                  progress: bool = False, **options: Any) -> torch.Tensor:
    """Upscale a clip: low_clip (N, T, C, S/2, S/2) levels and its first high-resolution frame first_frame
    (N, C, S, S) -> (N, T, C, S, S) uint8. Frame 0 is ``first_frame`` unchanged; frame t >= 1 is drawn from
    p(x_t^hi | x_t^lo, x_{t-1}^hi), the previous high-resolution frame being the one just produced, and its
    group 1 (x[..., ::2, ::2]) is low_clip[:, t] exactly. 3 ResNet calls per frame (O(1) in its size)."""
    from .pixels import check_options, check_temperature
    C, S, _ = model.image_shape
    if low_clip.dim() != 5 or tuple(low_clip.shape[2:]) != (C, S // 2, S // 2) or low_clip.shape[1] < 1:
        raise PixelarError(f"{model.name} upscales {S // 2}x{S // 2} clips of {C} channel(s) to {S}x{S}: "
                           f"low_clip must be (N, T, {C}, {S // 2}, {S // 2}), got {tuple(low_clip.shape)}")
    n = low_clip.shape[0]
    if tuple(first_frame.shape) != (n, C, S, S):
        raise PixelarError(f"the first high-resolution frame must be ({n}, {C}, {S}, {S}), got {tuple(first_frame.shape)}")
    for name, t in (("low_clip", low_clip), ("first_frame", first_frame)):
        if t.is_floating_point() or (t.long() < 0).any() or (t.long() >= model.config.num_levels).any():
            raise PixelarError(f"{name} must hold integer levels 0..{model.config.num_levels - 1}")
    device = next(model.parameters()).device
    low_clip, first_frame = low_clip.to(device).long(), first_frame.to(device).long()
    if not torch.equal(first_frame[..., ::2, ::2], low_clip[:, 0]):
        raise PixelarError("the first high-resolution frame does not sub-sample to the first low-resolution frame "
                           "(x[..., ::2, ::2]): give the low-resolution clip as the 2x2 sub-sampling of the frames")
    check_temperature(temperature)
    options = check_options(model, options)
    frames = [first_frame]
    was_training = model.training
    model.eval()
    try:
        for t in tqdm(range(1, low_clip.shape[1]), desc="upscaling frames", disable=not progress, leave=False):
            x = torch.zeros(n, C, S, S, dtype=torch.long, device=device)
            known = torch.zeros_like(x, dtype=torch.bool)
            x[..., ::2, ::2] = low_clip[:, t]
            known[..., ::2, ::2] = True
            _upscale_groups(model, x, known, frames[-1], generator, temperature, options)
            frames.append(x)
    finally:
        model.train(was_training)
    return torch.stack(frames, 1).to(torch.uint8)


@torch.no_grad()
def predict(model: Any, context: torch.Tensor, actions: torch.Tensor | None = None, state: torch.Tensor | None = None,
            frames: int | None = None, generator: torch.Generator | None = None, temperature: float = 1.0,
            progress: bool = False, **options: Any) -> torch.Tensor:
    """Continue clips: context (N, K, C, S, S) levels -> (N, K + frames, C, S, S) uint8, the K given frames
    unchanged, then ``frames`` (default: all the model predicts, T - K) sampled ones.

    actions/state: (N, T, A) floats (None = zeros); only their first K + frames steps matter."""
    from .pixels import check_options, check_temperature
    cfg = model.config
    frames = model.num_predicted if frames is None else frames
    if not 1 <= frames <= model.num_predicted:
        raise PixelarError(f"{model.name} predicts 1..{model.num_predicted} frames after {cfg.num_context} "
                           f"(num_frames={cfg.num_frames}), asked for {frames}")
    check_temperature(temperature)
    options = check_options(model, options)
    device = next(model.parameters()).device
    context = context.to(device)
    cond = {"context": context, "actions": actions, "state": state}
    cond = {k: v for k, v in cond.items() if v is not None}
    n = context.shape[0]
    x = torch.zeros(n, *model.image_shape, dtype=torch.long, device=device)
    known = torch.zeros_like(x, dtype=torch.bool)
    model.check_input(x, cond)
    was_training = model.training
    model.eval()
    try:
        _fill_frames(model, x, known, cond, frames, generator, temperature, progress, options)
    finally:
        model.train(was_training)
    S = cfg.image_size
    pred = x[:, :, : frames * S].reshape(n, cfg.image_channels, frames, S, S).permute(0, 2, 1, 3, 4)
    return torch.cat([context.long(), pred], 1).to(torch.uint8)
