"""PyTorch peer for `esvit bench swin`: timm's SwinTransformer with the same shape, batch and
threads, fp32, train mode (forward + backward of a pooled-feature loss), and a no-grad forward.
Prints one JSON line: {"forward_img_s", "train_img_s", "versions"}. drop_path is 0 on both sides.
"""
import argparse
import json
import time

import timm
import torch
from timm.models.swin_transformer import SwinTransformer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--img-size", type=int, default=32)
    ap.add_argument("--patch-size", type=int, default=2)
    ap.add_argument("--embed-dim", type=int, default=48)
    ap.add_argument("--depths", default="2,2,2")
    ap.add_argument("--num-heads", default="3,6,12")
    ap.add_argument("--window-size", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = SwinTransformer(img_size=a.img_size, patch_size=a.patch_size, embed_dim=a.embed_dim,
                            depths=tuple(int(x) for x in a.depths.split(",")),
                            num_heads=tuple(int(x) for x in a.num_heads.split(",")),
                            window_size=a.window_size, num_classes=0, drop_path_rate=0.0)
    x = torch.randn(a.batch, 3, a.img_size, a.img_size)

    def median_time(fn):
        fn()
        ts = []
        for _ in range(a.iters):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return sorted(ts)[len(ts) // 2]

    model.eval()
    with torch.no_grad():
        tf = median_time(lambda: model(x))
    model.train()

    def step():
        model.zero_grad(set_to_none=True)
        out = model(x)
        (out * 0.01).sum().backward()

    tt = median_time(step)
    print(json.dumps({"forward_img_s": a.batch / tf, "train_img_s": a.batch / tt,
                      "versions": f"torch {torch.__version__}, timm {timm.__version__}"}))


if __name__ == "__main__":
    main()
