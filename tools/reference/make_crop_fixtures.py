"""RandomResizedCrop geometry fixtures: torchvision's own get_params decisions together with the
random draws it consumed, so the Swift crop geometry can be checked for the same draws.

For each case, torch is seeded, torchvision.transforms.RandomResizedCrop.get_params runs, then
torch is re-seeded and the same sequence of torch RNG calls is replayed to record the draws
(area fraction and log aspect ratio as float32, then the two randint offsets). The replay's
result is asserted equal to torchvision's before anything is written.
Writes Tests/ESDataTests/Fixtures/crops.json.
"""
import json
import math
import os

import torch
from torchvision.transforms import RandomResizedCrop

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ESDataTests", "Fixtures")


def replay(height, width, scale, ratio):
    area = height * width
    log_ratio = torch.log(torch.tensor(ratio))
    draws = []
    for _ in range(10):
        u_area = torch.empty(1).uniform_(scale[0], scale[1]).item()
        u_logr = torch.empty(1).uniform_(log_ratio[0], log_ratio[1]).item()
        draws.append([u_area, u_logr])
        target_area = area * u_area
        aspect = torch.exp(torch.tensor(u_logr)).item()
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            i = torch.randint(0, height - h + 1, size=(1,)).item()
            j = torch.randint(0, width - w + 1, size=(1,)).item()
            return draws, [i, j], (i, j, h, w)
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w, h = width, height
    return draws, [], ((height - h) // 2, (width - w) // 2, h, w)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    sizes = [(28, 28), (500, 375), (375, 500), (224, 224), (37, 1000), (1000, 37), (64, 48)]
    scales = [(0.4, 1.0), (0.05, 0.4), (0.08, 1.0), (0.9, 1.0)]
    ratio = (3.0 / 4.0, 4.0 / 3.0)
    seed = 0
    for (h, w) in sizes:
        for sc in scales:
            for _ in range(25):
                torch.manual_seed(seed)
                img = torch.zeros(1, h, w)
                tv = RandomResizedCrop.get_params(img, list(sc), list(ratio))
                torch.manual_seed(seed)
                draws, ints, mine = replay(h, w, sc, ratio)
                assert tuple(int(x) for x in tv) == mine, (seed, tv, mine)
                cases.append({"height": h, "width": w, "scale": list(sc), "draws": draws, "offsets": ints,
                              "expected": [int(x) for x in tv]})
                seed += 1
    fallbacks = sum(1 for c in cases if not c["offsets"])
    with open(os.path.join(OUT, "crops.json"), "w") as f:
        json.dump({"ratio": list(ratio), "torch": torch.__version__, "cases": cases}, f)
    print(len(cases), "cases,", fallbacks, "centre-crop fallbacks")


if __name__ == "__main__":
    main()
