"""Reading user images: bit depths (D2), decompression bombs (D12), one-line errors."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from pixelar import imageio
from pixelar.errors import PixelarError


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, raw: bytes = b"") -> bytes:
    """A PNG built chunk by chunk, so the header can declare any size (``raw``: filtered rows)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw or b"\0" * 64))
            + chunk(b"IEND", b""))


def rgb16_png(values: np.ndarray) -> bytes:
    """(H, W, 3) uint16 -> a 16-bit RGB PNG (Pillow cannot write one)."""
    h, w, _ = values.shape
    rows = values.astype(">u2")
    return png_bytes(w, h, 16, 2, b"".join(b"\0" + row.tobytes() for row in rows))


@pytest.fixture
def noise16(tmp_path):
    """A 16-bit grayscale PNG of noise spread over 0..65535 (with both ends), and its values."""
    v = np.random.default_rng(0).integers(0, 65536, (16, 16)).astype(np.uint16)
    v[0, :4] = [0, 255, 256, 65535]
    path = tmp_path / "gray16.png"
    Image.fromarray(v).save(path)
    with Image.open(path) as img:
        assert img.mode == "I;16"                         # the mode the bug was about
    return path, v


def test_d2_sixteen_bit_png_is_scaled_not_clipped(noise16, tmp_path):
    path, v = noise16
    expected = (v >> 8).astype(np.uint8)                  # keep the high byte: 0..65535 -> 0..255
    x = imageio.read_image(path, 1, 16)
    assert x.shape == (1, 16, 16) and np.array_equal(x[0].numpy(), expected)
    assert x.numpy()[0, 0, :4].tolist() == [0, 0, 1, 255]
    assert 0 < x.float().mean() < 255                     # not the all-white image of D2
    binary = imageio.read_image(path, 1, 16, num_levels=2)
    assert np.array_equal(binary[0].numpy(), (expected >= 128).astype(np.uint8))
    # 16-bit RGB is reduced the same way by Pillow's decoder: gray and colour agree
    rgb = np.stack([v, v, 65535 - v], axis=2)
    (tmp_path / "rgb16.png").write_bytes(rgb16_png(rgb))
    y = imageio.read_image(tmp_path / "rgb16.png", 3, 16).numpy()
    assert np.array_equal(y[0], expected) and np.array_equal(y[1], expected)
    assert np.array_equal(y[2], ((65535 - v) >> 8).astype(np.uint8))
    # "I" (32-bit) images holding 16-bit values are scaled alike
    Image.fromarray(v.astype(np.int32)).save(tmp_path / "i32.tif")
    assert np.array_equal(imageio.read_image(tmp_path / "i32.tif", 1, 16)[0].numpy(), expected)


def test_d2_sixteen_bit_mask_is_scaled_not_clipped(tmp_path):
    v = np.zeros((8, 8), np.uint16)
    v[:, 4:] = 65535
    v[0, 0], v[0, 1] = 32768, 32767                       # 128 (known) and 127 (unknown) after >> 8
    path = tmp_path / "mask16.png"
    Image.fromarray(v).save(path)
    m = imageio.read_mask(path, 8)
    assert m.shape == (1, 8, 8) and m.dtype == imageio.torch.bool
    assert m[0, :, 4:].all() and not m[0, 1:, :4].any()   # D2 marked every pixel known
    assert m[0, 0, 0] and not m[0, 0, 1]


def test_float_and_out_of_range_images_are_refused(tmp_path):
    Image.fromarray(np.full((4, 4), 0.5, np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(PixelarError, match="floating-point") as e:
        imageio.read_image(tmp_path / "f.tif", 1, 4)
    assert "\n" not in str(e.value)
    Image.fromarray(np.full((4, 4), -3, np.int32)).save(tmp_path / "neg.tif")
    with pytest.raises(PixelarError, match="outside the 16-bit range"):
        imageio.read_image(tmp_path / "neg.tif", 1, 4)


def forbid_decoding(monkeypatch) -> None:
    """Make any pixel decoding fail the test: the checks must come from the header alone."""
    def load(self):
        raise AssertionError("pixels were decoded")
    monkeypatch.setattr(Image.Image, "load", load)
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.fixture
def no_decoding(monkeypatch):
    forbid_decoding(monkeypatch)


@pytest.mark.parametrize("side", [65535, 12000])
def test_d12_decompression_bomb_is_refused_from_its_header(tmp_path, side, no_decoding):
    path = tmp_path / f"bomb{side}.png"
    path.write_bytes(png_bytes(side, side, 8, 2))           # a few dozen bytes declaring side^2 RGB pixels
    assert path.stat().st_size < 200
    with pytest.raises(PixelarError) as e:
        imageio.read_image(path, 3, 8)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    assert ("too large" in msg) if side == 65535 else (f"is {side}x{side} pixels; the model expects 8x8" in msg)
    with pytest.raises(PixelarError, match="mask .*(too large|it must be 8x8)"):
        imageio.read_mask(path, 8)
    with pytest.raises(PixelarError, match="too large to read"):
        imageio.image_info(path)                          # for upscale/colorize's header probes


def test_image_info_reads_the_header_only(noise16, tmp_path, monkeypatch):
    path, _ = noise16
    Image.fromarray(np.zeros((3, 5, 4), np.uint8)).save(tmp_path / "rgba.png")
    forbid_decoding(monkeypatch)
    assert imageio.image_info(path) == (16, 16, 1)
    assert imageio.image_info(tmp_path / "rgba.png") == (5, 3, 3)
    with pytest.raises(PixelarError, match="does not exist"):
        imageio.image_info(tmp_path / "missing.png")


def test_unreadable_and_mismatched_images_give_one_line(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "rgb.png")
    cases = [(tmp_path / "text.png", 3, 8, "cannot read image"), (tmp_path / "missing.png", 3, 8, "does not exist"),
             (tmp_path / "rgb.png", 1, 8, "has 3 channel"), (tmp_path / "rgb.png", 3, 4, "is 8x8 pixels")]
    for path, c, s, words in cases:
        with pytest.raises(PixelarError, match=words) as e:
            imageio.read_image(path, c, s)
        assert "\n" not in str(e.value)
    assert np.array_equal(imageio.read_image(tmp_path / "rgb.png", 3, 8).numpy(), np.zeros((3, 8, 8)))


def test_a_failed_png_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    from PIL import Image

    from pixelar.imageio import save_png
    img = Image.new("RGB", (4, 4))

    def fail(self, fp, *args, **kwargs):
        open(fp, "wb").write(b"half")       # a partial write, then the disk fills up
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(OSError):
        save_png(img, tmp_path / "out.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
