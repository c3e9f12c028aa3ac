"""torchvision's evaluation transform (docs/algorithm.md §7.1): Resize(int(G*256/224), bicubic) on the short
side + CenterCrop(G), on a few inputs of different aspect ratios, for the Swift EvalTransform
test. Writes Tests/ESEvalTests/Fixtures/eval_transform.json (inputs and the cropped uint8
outputs, HWC RGB, base64); normalisation is checked in Swift from these pixels.
"""
import json
import os

import numpy as np
import torchvision
import torchvision.transforms as T
from PIL import Image

from make_imageops_fixtures import b64, pattern   # the same synthetic inputs and encoding

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ESEvalTests", "Fixtures")


def main():
    cases = []
    # (height, width, G): Fashion-MNIST's 28×28 at G = 32 (upscale), landscape and portrait
    # inputs (odd crop offsets), a downscale, and G = 224's ratio on a small model size.
    for i, (h, w, g) in enumerate([(28, 28, 32), (30, 45, 32), (50, 33, 32), (120, 90, 48), (81, 81, 64)]):
        src = pattern(h, w, i)
        t = T.Compose([T.Resize(g * 256 // 224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(g)])
        out = np.asarray(t(Image.fromarray(src)).convert("RGB"))
        cases.append({"height": h, "width": w, "size": g, "input": b64(src), "output": b64(out)})
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "eval_transform.json"), "w") as f:
        json.dump({"torchvision": torchvision.__version__, "pillow": Image.__version__, "cases": cases}, f)
    print("wrote", len(cases), "cases")


if __name__ == "__main__":
    main()
