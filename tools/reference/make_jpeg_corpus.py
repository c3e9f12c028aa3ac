"""Small JPEG corpus for the decoder tests, with PIL's decodes as the expected pixels.

Good files: RGB, grayscale, CMYK (Adobe), and a 200x160 image for DCT downscaling. Bad files:
truncated, corrupt header, PNG named .jpg, text, empty, absurdly large (SOF patched to 50000^2).
Writes Tests/ESDataTests/Fixtures/jpeg/ (expected RGB as raw .rgb files, HWC uint8).
"""
import io
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ESDataTests", "Fixtures", "jpeg")


def pattern(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 7) % 256], -1)
    return np.clip(base + rng.integers(-20, 20, size=(h, w, 3)), 0, 255).astype(np.uint8)


def save(name, img, **kw):
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "JPEG"), **kw)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(buf.getvalue())
    return buf.getvalue()


def expect(name):
    rgb = np.asarray(Image.open(os.path.join(OUT, name)).convert("RGB"))
    rgb.tofile(os.path.join(OUT, name + ".rgb"))
    print(name, rgb.shape)


def main():
    os.makedirs(OUT, exist_ok=True)
    good = save("good_rgb.jpg", Image.fromarray(pattern(30, 40, 0)), quality=90)
    expect("good_rgb.jpg")
    save("gray.jpg", Image.fromarray(pattern(20, 24, 1)[..., 0]), quality=90)
    expect("gray.jpg")
    save("cmyk.jpg", Image.fromarray(pattern(16, 16, 2)).convert("CMYK"), quality=95)
    expect("cmyk.jpg")
    save("big.jpg", Image.fromarray(pattern(160, 200, 3)), quality=85)
    with open(os.path.join(OUT, "truncated.jpg"), "wb") as f:
        f.write(good[: len(good) * 6 // 10])
    bad = bytearray(good)
    sof = bad.find(b"\xff\xc0")
    bad[sof + 4] = 3   # sample precision 3 bits: rejected by libjpeg
    with open(os.path.join(OUT, "corrupt_header.jpg"), "wb") as f:
        f.write(bytes(bad))
    save("png_named.jpg", Image.fromarray(pattern(8, 8, 4)), format="PNG")
    with open(os.path.join(OUT, "text.jpeg"), "wb") as f:
        f.write(b"this is not an image\n")
    open(os.path.join(OUT, "empty.jpg"), "wb").close()
    huge = bytearray(good)
    huge[sof + 5:sof + 9] = (50000).to_bytes(2, "big") + (50000).to_bytes(2, "big")
    with open(os.path.join(OUT, "huge.jpg"), "wb") as f:
        f.write(bytes(huge))
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("corpus bytes:", total)


if __name__ == "__main__":
    main()
