"""Pillow + torchvision peer for `esvit bench data`: DINO's multi-crop pipeline (the official
DataAugmentationDINO composition) on the same files, with a DataLoader of --threads worker
processes. Prints one JSON line {"images_s", "versions"} (images = samples, each 2 + N crops).
"""
import argparse
import gzip
import json
import os
import random
import time

import numpy as np
import torch
import torchvision
from PIL import Image, ImageFilter, ImageOps
from torchvision import datasets, transforms


class GaussianBlur:
    def __init__(self, p, sigma=(0.1, 2.0)):
        self.p, self.sigma = p, sigma

    def __call__(self, img):
        if random.random() <= self.p:
            return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))
        return img


class Solarization:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        return ImageOps.solarize(img) if random.random() < self.p else img


class DINOAug:
    def __init__(self, g, l, n, mean, std, sigma=(0.1, 2.0)):
        fj = transforms.Compose([transforms.RandomHorizontalFlip(p=0.5),
                                 transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
                                 transforms.RandomGrayscale(p=0.2)])
        norm = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
        bic = transforms.InterpolationMode.BICUBIC
        self.g1 = transforms.Compose([transforms.RandomResizedCrop(g, scale=(0.4, 1), interpolation=bic), fj, GaussianBlur(1.0, sigma), norm])
        self.g2 = transforms.Compose([transforms.RandomResizedCrop(g, scale=(0.4, 1), interpolation=bic), fj, GaussianBlur(0.1, sigma), Solarization(0.2), norm])
        self.lo = transforms.Compose([transforms.RandomResizedCrop(l, scale=(0.05, 0.4), interpolation=bic), fj, GaussianBlur(0.5, sigma), norm])
        self.n = n

    def __call__(self, img):
        return [self.g1(img), self.g2(img)] + [self.lo(img) for _ in range(self.n)]


class FashionIDX(torch.utils.data.Dataset):
    def __init__(self, root, transform):
        with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
            self.x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        self.t = transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.t(Image.fromarray(self.x[i]).convert("RGB")), 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", choices=["fashion-mnist", "folder"], required=True)
    ap.add_argument("--data-path", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--global-size", type=int, default=32)
    ap.add_argument("--local-size", type=int, default=16)
    ap.add_argument("--local-crops", type=int, default=6)
    ap.add_argument("--mean", type=float, nargs=3, default=[0.286] * 3)
    ap.add_argument("--std", type=float, nargs=3, default=[0.353] * 3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    aug = DINOAug(a.global_size, a.local_size, a.local_crops, a.mean, a.std)
    ds = FashionIDX(a.data_path, aug) if a.dataset == "fashion-mnist" else datasets.ImageFolder(a.data_path, aug)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.threads, drop_last=True,
                                     persistent_workers=True, prefetch_factor=2)
    it = iter(dl)
    next(it)  # warm-up (worker start)
    t0 = time.perf_counter()
    for _ in range(a.batches):
        next(it)
    t = time.perf_counter() - t0
    print(json.dumps({"images_s": a.batch * a.batches / t,
                      "versions": f"Pillow {Image.__version__}, torchvision {torchvision.__version__}, torch {torch.__version__}"}))


if __name__ == "__main__":
    main()
