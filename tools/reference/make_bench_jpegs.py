"""Synthetic ImageNet-sized JPEG folder for `esvit bench data` (not committed; regenerate):
2 classes x 200 images of 500x375, gradients plus noise, quality 90.
Usage: python tools/reference/make_bench_jpegs.py /tmp/imnet
"""
import os
import sys

import numpy as np
from PIL import Image


def main(out):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:375, 0:500]
    base = np.stack([(x * 255 // 499), (y * 255 // 374), ((x * 3 + y * 5) * 7) % 256], -1)
    for c in range(2):
        os.makedirs(f"{out}/c{c}", exist_ok=True)
        for i in range(200):
            img = np.clip(base + rng.integers(-30, 30, (375, 500, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(f"{out}/c{c}/{i:04d}.jpg", quality=90)
    print("wrote 400 JPEGs under", out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/imnet")
