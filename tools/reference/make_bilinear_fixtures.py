"""PIL's crop + resize(BILINEAR) (torchvision's RandomResizedCrop default for PIL images, used by
the linear probe's training views) for fixed boxes: down, up, mixed, and both Pillow-13 pass
orders. Writes Tests/ESDataTests/Fixtures/bilinear.json (input and outputs base64, HWC uint8).
"""
import base64
import json
import os

import numpy as np
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ESDataTests", "Fixtures")


def main():
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:48, 0:64]
    src = np.clip(np.stack([x * 4, y * 5, (x * 3 + y * 7) % 256], -1) + rng.integers(-30, 30, size=(48, 64, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(src)
    cases = []
    for (t, l, h, w, s) in [(0, 0, 48, 64, 32), (7, 5, 17, 20, 32), (3, 10, 40, 50, 16), (4, 9, 30, 30, 30), (0, 2, 46, 12, 10)]:
        out = np.asarray(F.resized_crop(img, t, l, h, w, [s, s], interpolation=InterpolationMode.BILINEAR))
        cases.append({"box": [t, l, h, w], "size": s, "output": base64.b64encode(out.tobytes()).decode()})
    with open(os.path.join(OUT, "bilinear.json"), "w") as f:
        json.dump({"height": 48, "width": 64, "input": base64.b64encode(src.tobytes()).decode(), "cases": cases}, f)
    print("wrote", len(cases), "cases")


if __name__ == "__main__":
    main()
