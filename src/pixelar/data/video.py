"""Video data sets: action-conditional moving digits (built in, no download) and Moving MNIST.

Every video data set yields, in the item convention of ``data/base.py``::

    (future, {"label": -1, "context": (C, K·S, S) uint8, "actions": (T, A) float32, "state": (T, A_s) float32})

``future`` is the filmstrip (C, F·S, S) of the F = T - K frames after the K conditioning frames,
top to bottom - the ``x`` a video model scores (``models/video_pixelcnn.py``); ``context`` the K
given frames, stacked the same way. ``dataset.clip(i)`` gives clip i whole, (T, C, S, S) uint8,
with its actions and state.

**Moving digits** (``moving_digits``): the paper's Robot Pushing protocol (20 frames of 64×64, 2
conditioning frames, 5-d action and state vectors) made from digits. Two digits of side
d = round(28·S/64) move in an S×S frame (pixelwise maximum where they overlap); clip i of a split
is drawn from ``numpy.random.default_rng([seed, split, i])``, so it is the same on every machine
and costs no memory until it is read.

* position p_k(t) (top-left corner, pixels, in [0, S-d]) of digit k = 1, 2; velocity v_k, speed
  uniform in [1, 3]·S/64 pixels per frame, direction uniform; a digit reaching a wall is reflected.
* **action** a_t (t = 0..T-1), the displacement that takes frame t to frame t+1:
  a_t = (Δx_1, Δy_1, Δx_2, Δy_2) / (3·S/64) with Δ = p(t+1) - p(t) after reflection, and
  a_t[4] = 1 if a digit hit a wall between t and t+1 (the "contact" bit), else 0; a_{T-1} = 0.
* **state** s_t = (x_1, y_1, x_2, y_2) / (S - d) (positions in [0, 1]) and s_t[4] = t / (T - 1).
* action patterns: ``bounce`` (constant velocity between wall hits) in train/valid; ``turns``
  (the direction is redrawn every 5 frames as well) in the test splits.
* splits, after Robot Pushing's: ``train`` and ``valid`` - digit classes 0-7, ``bounce``, different
  clips ("same objects but different arm trajectories"); ``test_seen`` - classes 0-7 (other digit
  images when MNIST is given) with the novel ``turns`` pattern (Ts-seen); ``test_novel`` - held-out
  classes 8-9 with ``turns`` (Ts-novel).
* digits: from an MNIST npz (``digits=PATH``: ``images`` (N, 28, 28[, 1]) uint8 and ``labels``;
  ``../shared/data/mnist_train.npz`` in benchmarks): its first half feeds train/valid, its second
  half the test splits. Without one, built-in seven-segment glyphs (one shape per class), so that
  tests need no data.

**Moving MNIST** (``moving_mnist``): the standard ``mnist_test_seq.npy`` of Srivastava et al. (2015),
(20, 10000, 64, 64) uint8, two bouncing digits, no actions (A = 0). The file has no splits; ours
(text silent): clips 0-7999 train, 8000-8999 valid, 9000-9999 test.

**Robot Pushing** (``robot_pushing``, Finn et al. 2016; not downloadable here): the release's TFRecord
files in ``ROOT/push_train``, ``ROOT/push_testseen``, ``ROOT/push_testnovel`` (splits ``train``,
``test_seen``, ``test_novel``), read without TensorFlow (``data/tfrecord.py``). A record is one
sequence: ``move/{t}/image/encoded`` (JPEG/PNG), ``move/{t}/commanded_pose/vec_pitch_yaw`` (the
5-d action) and ``move/{t}/endeffector/vec_pitch_yaw`` (the 5-d state), t = 0..19. Frames are
centre-cropped to a square and resized to ``image_size`` (bicubic), as Finn et al.'s input code
does (Reed et al.'s text is silent).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelar.data.base import DatasetInfo
from pixelar.data.download import Resource, cache_dir, fetch
from pixelar.errors import DataError

DIGIT_SPLITS = ("train", "valid", "test_seen", "test_novel")
DIGIT_SEQUENCES = {"train": 2000, "valid": 200, "test_seen": 200, "test_novel": 200}
_SPLIT_CLASSES = {"train": range(8), "valid": range(8), "test_seen": range(8), "test_novel": (8, 9)}
_SPLIT_PATTERN = {"train": "bounce", "valid": "bounce", "test_seen": "turns", "test_novel": "turns"}
ACTION_DIM = STATE_DIM = 5

# seven-segment digits: segments a (top), b (upper right), c (lower right), d (bottom), e (lower left),
# f (upper left), g (middle)
_SEGMENTS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]


def glyphs(size: int) -> np.ndarray:
    """(10, size, size) uint8: one seven-segment glyph per digit class, strokes 255 on 0."""
    out = np.zeros((10, size, size), dtype=np.uint8)
    t = max(1, size // 7)                              # stroke width
    lo, hi, mid = t, size - 1 - t, size // 2
    left, right = max(1, size // 5), size - 1 - max(1, size // 5)
    boxes = {"a": (lo, lo + t, left, right + 1), "g": (mid - t // 2, mid - t // 2 + t, left, right + 1),
             "d": (hi - t + 1, hi + 1, left, right + 1), "f": (lo, mid + 1, left, left + t),
             "b": (lo, mid + 1, right - t + 1, right + 1), "e": (mid, hi + 1, left, left + t),
             "c": (mid, hi + 1, right - t + 1, right + 1)}
    for k, segs in enumerate(_SEGMENTS):
        for s in segs:
            r0, r1, c0, c1 = boxes[s]
            out[k, r0:r1, c0:c1] = 255
    return out


def _digit_pools(digits: str | None, size: int) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """{class: (n, size, size) uint8} for the train/valid splits and for the test splits."""
    if digits is None:
        g = glyphs(size)
        pool = {k: g[k:k + 1] for k in range(10)}
        return pool, pool
    path = Path(os.path.expanduser(digits))
    try:
        with np.load(path) as f:
            images, labels = f["images"], f["labels"]
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"cannot read digits from {path} ({type(e).__name__}: {e}); give an npz with "
                        "'images' (N, 28, 28[, 1]) uint8 and 'labels'") from None
    images = images.reshape(len(images), *images.shape[1:3])
    if images.dtype != np.uint8 or len(images) != len(labels) or len(images) < 2:
        raise DataError(f"{path}: 'images' must be uint8 (N, H, W) with one label each")
    if images.shape[1:] != (size, size):
        from PIL import Image
        images = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images])
    half = len(images) // 2
    pools = []
    for part in (slice(0, half), slice(half, None)):
        im, lb = images[part], np.asarray(labels[part])
        pools.append({k: im[lb == k] for k in range(10) if (lb == k).any()})
    return pools[0], pools[1]


def moving_digits_clip(rng: np.random.Generator, pool: dict[int, np.ndarray], classes: Any, pattern: str,
                       num_frames: int, image_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One clip: frames (T, 1, S, S) uint8, actions (T, 5) and state (T, 5) float32 (module docstring)."""
    S, T = image_size, num_frames
    classes = [k for k in classes if k in pool]
    digits = [pool[k][rng.integers(len(pool[k]))] for k in rng.choice(classes, size=2)]
    d = digits[0].shape[0]
    room = float(S - d)
    unit = S / 64.0
    pos = rng.uniform(0, room, size=(2, 2))                          # (digit, xy)

    def velocity() -> np.ndarray:
        angle = rng.uniform(0, 2 * np.pi, size=2)
        speed = rng.uniform(1.0, 3.0, size=2) * unit
        return np.stack([np.cos(angle), np.sin(angle)], 1) * speed[:, None]

    vel = velocity()
    frames = np.zeros((T, 1, S, S), dtype=np.uint8)
    actions = np.zeros((T, ACTION_DIM), dtype=np.float32)
    state = np.zeros((T, STATE_DIM), dtype=np.float32)
    for t in range(T):
        for k in range(2):
            x, y = np.rint(pos[k]).astype(int)
            np.maximum(frames[t, 0, y:y + d, x:x + d], digits[k], out=frames[t, 0, y:y + d, x:x + d])
        state[t, :4] = (pos / max(room, 1.0)).reshape(-1)
        state[t, 4] = t / max(T - 1, 1)
        if t == T - 1:
            break
        if pattern == "turns" and t > 0 and t % 5 == 0:
            vel = velocity()
        new = pos + vel
        hit = (new < 0) | (new > room)
        new = np.where(new < 0, -new, np.where(new > room, 2 * room - new, new))    # reflect at the walls
        vel = np.where(hit, -vel, vel)
        actions[t, :4] = ((new - pos) / (3.0 * unit)).reshape(-1)
        actions[t, 4] = float(hit.any())
        pos = new
    return frames, actions, state


class VideoDataset(Dataset):
    """Clips as video items (module docstring). Subclasses give ``clip(i) -> (frames, actions, state)``."""

    def __init__(self, info: DatasetInfo, length: int, num_frames: int, num_context: int) -> None:
        if not 1 <= num_context < num_frames:
            raise DataError(f"data set {info.name}: need 1 <= num_context < num_frames, got {num_context} "
                            f"and {num_frames}")
        self.info, self.length, self.num_frames, self.num_context = info, length, num_frames, num_context

    def __len__(self) -> int:
        return self.length

    def clip(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, Any]]:
        if not -self.length <= i < self.length:
            raise IndexError(i)
        frames, actions, state = self.clip(i % self.length)
        strip = torch.from_numpy(np.ascontiguousarray(frames)).permute(1, 0, 2, 3)    # (C, T, S, S)
        strip = strip.reshape(strip.shape[0], -1, strip.shape[-1])                   # (C, T·S, S)
        cut = self.num_context * frames.shape[-1]
        return strip[:, cut:].contiguous(), {"label": -1, "context": strip[:, :cut].contiguous(),
                                             "actions": torch.from_numpy(actions), "state": torch.from_numpy(state)}


class MovingDigits(VideoDataset):
    """The action-conditional moving-digits data set (module docstring)."""

    def __init__(self, split: str, image_size: int = 64, num_frames: int = 20, num_context: int = 2,
                 num_sequences: int | None = None, seed: int = 0, digits: str | None = None) -> None:
        if split not in DIGIT_SPLITS:
            raise DataError(f"moving_digits has no split '{split}'; choose one of {', '.join(DIGIT_SPLITS)}")
        if image_size < 4 or num_frames < 2:
            raise DataError(f"moving_digits needs image_size >= 4 and num_frames >= 2, got {image_size}, {num_frames}")
        n = DIGIT_SEQUENCES[split] if num_sequences is None else num_sequences
        if n < 1:
            raise DataError(f"moving_digits: num_sequences must be >= 1, got {n}")
        super().__init__(DatasetInfo("moving_digits", 1, image_size, 256), n, num_frames, num_context)
        self.split, self.seed, self.image_size = split, seed, image_size
        train_pool, test_pool = _digit_pools(digits, max(3, round(28 * image_size / 64)))
        self.pool = test_pool if split.startswith("test") else train_pool

    def clip(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, DIGIT_SPLITS.index(self.split), i])
        return moving_digits_clip(rng, self.pool, _SPLIT_CLASSES[self.split], _SPLIT_PATTERN[self.split],
                                  self.num_frames, self.image_size)


# Moving MNIST (Srivastava et al. 2015); mirrors are URL prefixes ending in "/" (tests point them at a
# local server). The md5 is the one torchvision's MovingMNIST checks; no sha256 is published.
MOVING_MNIST_MIRRORS: list[str] = ["http://www.cs.toronto.edu/~nitish/unsupervised_video/"]
MOVING_MNIST_FILE = "mnist_test_seq.npy"
MOVING_MNIST_MD5 = "be083ec986bfe91a449d63653c411eb2"
MOVING_MNIST_BYTES = 819_200_128            # (20, 10000, 64, 64) uint8 + the .npy header
MOVING_MNIST_SPLITS = {"train": (0, 8000), "valid": (8000, 9000), "test": (9000, 10000)}


class MovingMNIST(VideoDataset):
    """Moving MNIST clips (20 frames of 64×64, no actions or state): (T, 1, 64, 64) per clip."""

    def __init__(self, array: np.ndarray, split: str, num_context: int = 2) -> None:
        lo, hi = MOVING_MNIST_SPLITS[split]
        hi = min(hi, array.shape[1])
        super().__init__(DatasetInfo("moving_mnist", 1, array.shape[-1], 256), max(0, hi - lo), array.shape[0],
                         num_context)
        self.array, self.offset = array, lo

    def clip(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frames = np.asarray(self.array[:, self.offset + i])[:, None]          # (T, 1, 64, 64)
        T = frames.shape[0]
        return frames, np.zeros((T, 0), np.float32), np.zeros((T, 0), np.float32)


def load_moving_mnist(split: str = "train", root: str | os.PathLike | None = None, download: bool = True,
                      num_context: int = 2) -> MovingMNIST:
    """Moving MNIST's ``split`` (train 8000 / valid 1000 / test 1000 clips), downloaded and md5-checked."""
    if split not in MOVING_MNIST_SPLITS:
        raise DataError(f"moving_mnist has no split '{split}'; choose one of {', '.join(MOVING_MNIST_SPLITS)}")
    root = Path(root) if root is not None else cache_dir() / "moving_mnist"
    resource = Resource(MOVING_MNIST_FILE, tuple(m + MOVING_MNIST_FILE for m in MOVING_MNIST_MIRRORS),
                        md5=MOVING_MNIST_MD5, max_bytes=MOVING_MNIST_BYTES + 4096)
    path = fetch(resource, root, download)
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"{path} is not a readable .npy ({type(e).__name__}: {e}); delete it and download it "
                        "again") from None
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[2] != array.shape[3]:
        raise DataError(f"{path} holds {array.dtype} {array.shape}, expected uint8 (T, clips, 64, 64); replace it "
                        "with the official file")
    return MovingMNIST(array, split, num_context)


ROBOT_SPLITS = {"train": "push_train", "test_seen": "push_testseen", "test_novel": "push_testnovel"}


class RobotPushing(VideoDataset):
    """Robot Pushing sequences from TFRecord files (module docstring), decoded when read."""

    def __init__(self, files: list[Path], split: str, image_size: int = 64, num_frames: int = 20,
                 num_context: int = 2) -> None:
        from pixelar.data.tfrecord import index_records
        self.records = [(f, off, n) for f in files for off, n in index_records(f)]
        super().__init__(DatasetInfo("robot_pushing", 3, image_size, 256), len(self.records), num_frames, num_context)
        self.image_size = image_size

    def clip(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import io

        from PIL import Image

        from pixelar.data.tfrecord import parse_example, read_record_at
        path, off, n = self.records[i]
        ex = parse_example(read_record_at(path, off, n))
        S, T = self.image_size, self.num_frames
        frames = np.zeros((T, 3, S, S), np.uint8)
        actions = np.zeros((T, ACTION_DIM), np.float32)
        state = np.zeros((T, STATE_DIM), np.float32)
        for t in range(T):
            try:
                img = Image.open(io.BytesIO(ex[f"move/{t}/image/encoded"][0])).convert("RGB")
                act, st = ex[f"move/{t}/commanded_pose/vec_pitch_yaw"], ex[f"move/{t}/endeffector/vec_pitch_yaw"]
            except (KeyError, IndexError, OSError) as e:
                raise DataError(f"{path}: sequence {i} lacks step {t} of a Robot Pushing record "
                                f"({type(e).__name__}: {e}); is this the push release?") from None
            w, h = img.size
            side = min(w, h)
            img = img.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2))
            frames[t] = np.asarray(img.resize((S, S), Image.BICUBIC)).transpose(2, 0, 1)
            actions[t], state[t] = act[:ACTION_DIM], st[:STATE_DIM]
        return frames, actions, state


def load_robot_pushing(split: str = "train", root: str | os.PathLike | None = None, image_size: int = 64,
                       num_context: int = 2) -> RobotPushing:
    """The ``split`` of the Robot Pushing release found under ``root`` (default ``cache_dir()/robot_pushing``)."""
    if split not in ROBOT_SPLITS:
        raise DataError(f"robot_pushing has no split '{split}'; choose one of {', '.join(ROBOT_SPLITS)}")
    root = Path(root) if root is not None else cache_dir() / "robot_pushing"
    folder = root / ROBOT_SPLITS[split]
    files = sorted(p for p in folder.glob("*.tfrecord*") if p.is_file()) if folder.is_dir() else []
    if not files:
        raise DataError(f"no Robot Pushing TFRecord files in {folder}; it cannot be downloaded automatically: get "
                        f"the push release (Finn et al. 2016) and put {ROBOT_SPLITS[split]}/*.tfrecord* under {root}")
    return RobotPushing(files, split, image_size, 20, num_context)
