"""PIL/torchvision outputs of DINO's pixel operations for fixed parameters, for the Swift
ImageOps tests: resized_crop (bicubic) down and up, brightness, contrast, saturation, hue,
grayscale, GaussianBlur (several radii, including an image smaller than the box), solarize.
Writes Tests/ESDataTests/Fixtures/imageops.json (inputs and outputs base64, HWC uint8 RGB).
"""
import base64
import json
import os

import numpy as np
import torchvision
import torchvision.transforms.functional as F
from PIL import Image, ImageFilter, ImageOps
from torchvision.transforms import InterpolationMode

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ESDataTests", "Fixtures")


def pattern(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x * 3 + y * 5) * 7) % 256], -1)
    return np.clip(base + rng.integers(-40, 40, size=(h, w, 3)), 0, 255).astype(np.uint8)


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()


def main():
    inputs = {"a": pattern(30, 40, 0), "big": pattern(48, 64, 1), "tiny": pattern(5, 5, 2)}
    cases = []

    def add(op, src, params, out_img):
        arr = np.asarray(out_img.convert("RGB"))
        cases.append({"op": op, "input": src, "params": params, "height": arr.shape[0], "width": arr.shape[1], "output": b64(arr)})

    img = {k: Image.fromarray(v) for k, v in inputs.items()}
    # Includes Pillow 13's pass-order boundary: vertical first iff h - s > 2 (w - s) with s < h.
    for (t, l, h, w, s) in [(0, 0, 48, 64, 32), (7, 5, 17, 20, 32), (3, 10, 40, 50, 16), (0, 0, 48, 64, 96), (4, 9, 30, 30, 30),
                            (2, 2, 40, 13, 24), (0, 0, 47, 20, 24), (1, 1, 40, 30, 20), (1, 1, 41, 30, 20), (0, 3, 44, 33, 25)]:
        add("resized_crop", "big", [t, l, h, w, s], F.resized_crop(img["big"], t, l, h, w, [s, s], InterpolationMode.BICUBIC))
    for f in [0.6, 1.37]:
        add("brightness", "a", [f], F.adjust_brightness(img["a"], f))
    for f in [0.6, 1.4]:
        add("contrast", "a", [f], F.adjust_contrast(img["a"], f))
    for f in [0.8, 1.2]:
        add("saturation", "a", [f], F.adjust_saturation(img["a"], f))
    for f in [-0.1, -0.03, 0.05, 0.1]:
        add("hue", "a", [f], F.adjust_hue(img["a"], f))
    add("grayscale", "a", [], F.rgb_to_grayscale(img["a"], num_output_channels=3))
    for r in [0.1, 0.5, 1.3, 2.0]:
        add("blur", "a", [r], img["a"].filter(ImageFilter.GaussianBlur(radius=r)))
    add("blur", "tiny", [2.0], img["tiny"].filter(ImageFilter.GaussianBlur(radius=2.0)))
    add("solarize", "a", [], ImageOps.solarize(img["a"], threshold=128))
    with open(os.path.join(OUT, "imageops.json"), "w") as f:
        json.dump({"inputs": {k: {"height": v.shape[0], "width": v.shape[1], "pixels": b64(v)} for k, v in inputs.items()},
                   "cases": cases, "versions": f"Pillow {Image.__version__}, torchvision {torchvision.__version__}"}, f)
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
