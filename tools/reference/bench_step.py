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
from esvit_step_reference import EsViT, forward_loss  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patch-size", type=int, default=2)
    ap.add_argument("--embed-dim", type=int, default=48)
    ap.add_argument("--depths", default="2,2,2")
    ap.add_argument("--num-heads", default="3,6,12")
    ap.add_argument("--window-size", type=int, default=4)
    ap.add_argument("--construct-size", type=int, default=32)
    ap.add_argument("--global-size", type=int, default=32)
    ap.add_argument("--local-size", type=int, default=16)
    ap.add_argument("--local-crops", type=int, default=6)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--bottleneck", type=int, default=128)
    ap.add_argument("--out-dim", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = dict(backbone=dict(patch_size=a.patch_size, in_chans=3, embed_dim=a.embed_dim,
                           depths=[int(x) for x in a.depths.split(",")], num_heads=[int(x) for x in a.num_heads.split(",")],
                           window_size=a.window_size, construct_size=a.construct_size),
             hidden=a.hidden, bottleneck=a.bottleneck, out_dim=a.out_dim, batch=a.batch, local_crops=a.local_crops,
             student_temp=0.1)
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
        for p in student.parameters():
            n = p.grad.norm(2)
            coef = 3.0 / (n + 1e-6)
            if coef < 1:
                p.grad.mul_(coef)
        opt.step()
        with torch.no_grad():
            for ps, pt in zip(student.parameters(), teacher.parameters()):
                pt.mul_(0.996).add_(0.004 * ps)

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
