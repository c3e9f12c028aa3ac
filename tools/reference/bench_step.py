"""PyTorch peer for `esvit bench step`: the same EsViT recipe (plain-torch Swin from the spec,
two DINO heads, view + region loss, per-tensor clipping, AdamW, teacher EMA), fp32, same
threads. Prints one JSON line {"step_img_s", "peak_rss_kib" (the process's peak resident set), "versions"}; images = batch per step.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from esvit_step_reference import EsViT, add_model_arguments, clip_step_ema, forward_loss, model_config  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    add_model_arguments(ap, patch_size=2, local_crops=6)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = model_config(a, a.batch)
    student, teacher = EsViT(c), EsViT(c)
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-4, weight_decay=0.04)
    B, nL, K = a.batch, a.local_crops, a.out_dim
    globals_ = torch.randn(2 * B, 3, a.global_size, a.global_size)
    locals_ = torch.randn(nL * B, 3, a.local_size, a.local_size)
    center, center_grid = torch.zeros(1, K), torch.zeros(1, K)

    def step():
        loss = forward_loss(student, teacher, globals_, locals_, center, center_grid, 0.04, c)[0]
        opt.zero_grad()
        loss.backward()
        clip_step_ema(student, teacher, opt)

    step()
    ts = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    t = sorted(ts)[len(ts) // 2]
    print(json.dumps({"step_img_s": B / t, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "versions": f"torch {torch.__version__}"}))


if __name__ == "__main__":
    main()
