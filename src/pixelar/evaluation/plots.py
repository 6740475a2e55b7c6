"""Learning-curve PNG drawn with Pillow (no plotting dependency)."""
from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash; the rest is still good
    return rows


def learning_curve_png(metrics_path: Path, out_path: Path, size: tuple[int, int] = (640, 400)) -> None:
    """Plot train bits/dim (line) and test bits/dim (dots) against step."""
    rows = read_metrics(metrics_path)
    train = [(r["step"], r["train_bpd"]) for r in rows if "train_bpd" in r]
    test = [(r["step"], r["test_bpd"]) for r in rows if "test_bpd" in r]
    pts = train + test
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 60, w - 20, 30, h - 40
    d.rectangle([left, top, right, bottom], outline="black")
    d.text((left, 8), "bits/dim vs step  (line: train, dots: test)", fill="black")
    if pts:
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)
        y0, y1 = min(ys), max(ys)
        if y1 - y0 < 1e-6:
            y0, y1 = y0 - 0.5, y1 + 0.5

        def to_px(s: float, v: float) -> tuple[float, float]:
            return (left + (s - x0) / (x1 - x0) * (right - left), bottom - (v - y0) / (y1 - y0) * (bottom - top))

        for k in range(5):
            v = y0 + (y1 - y0) * k / 4
            _, py = to_px(x0, v)
            d.line([left - 4, py, left, py], fill="black")
            d.text((4, py - 6), f"{v:.2f}", fill="black")
        d.text((left, bottom + 8), f"step {x0}", fill="black")
        d.text((right - 90, bottom + 8), f"step {x1}", fill="black")
        if len(train) > 1:
            d.line([to_px(s, v) for s, v in train], fill=(31, 119, 180), width=2)
        for s, v in test:
            px, py = to_px(s, v)
            d.ellipse([px - 4, py - 4, px + 4, py + 4], fill=(214, 39, 40))
    tmp = out_path.with_suffix(".tmp.png")
    img.save(tmp)
    tmp.replace(out_path)
