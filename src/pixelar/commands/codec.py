"""``pixelar compress`` / ``decompress``: lossless compression of images with a checkpoint (docs/codec.md)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import registry


def cmd_compress(args: argparse.Namespace) -> int:
    from ..codec import compress_files
    model = registry.load(args.checkpoint, map_location="cpu")
    start = time.perf_counter()
    n, size = compress_files(model, args.input, args.out, force=args.force, progress=True, label=args.label)
    print(f"wrote {n} image(s) to {args.out}: {size} bytes in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_decompress(args: argparse.Namespace) -> int:
    from ..codec import decompress_file, labels_of
    model = registry.load(args.checkpoint, map_location="cpu")
    start = time.perf_counter()
    paths = decompress_file(model, args.input, args.out, force=args.force, progress=True)
    labels = labels_of(Path(args.input).read_bytes())
    where = f" (class {labels[0]})" if labels and len(paths) == 1 else (" (+ labels.txt)" if labels else "")
    print(f"wrote {len(paths)} image(s) to {args.out}{where} in {time.perf_counter() - start:.1f} s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compress", help="losslessly compress images with a model (.pxz)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="an image file, a folder of images, or an .npz")
    p.add_argument("--out", required=True, help="the .pxz file to write")
    p.add_argument("--class", dest="label", type=int, default=None,
                   help="class-conditional models: code every image as this class (stored in the file); "
                        "an npz input's own 'labels' are used otherwise")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_compress)
    p = sub.add_parser("decompress", help="decode a .pxz file with the model it was made with")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="the .pxz file")
    p.add_argument("--out", required=True, help="IMG.png (one image) or a folder (000000.png, ...)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_decompress)
