"""PyTorch peer for `esvit bench pretrain`: EsViT pretraining on Fashion-MNIST as a PyTorch user
would run it, data loading included. DINO's multi-crop augmentation with torchvision on PIL
images (DataLoader, DistributedSampler), the plain-torch Swin and heads of
esvit_step_reference.py, view + region loss, center update (all-reduced), per-tensor clipping,
AdamW, teacher EMA. One process (`--threads 2`) or torchrun with N processes over gloo
(`python -m torch.distributed.run --nproc_per_node N pretrain_reference.py --threads 1`), the
student wrapped in DistributedDataParallel. Prints one JSON line from rank 0:
{"img_s": global images per second over the timed iterations, "peak_rss_kib": the largest
rank's peak resident set, "versions"}.
"""
import argparse
import json
import os
import random
import resource
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from bench_data_pillow import DINOAug, FashionIDX  # noqa: E402
from esvit_step_reference import EsViT, add_model_arguments, clip_step_ema, esvit_loss, model_config  # noqa: E402

MEAN, STD = (0.2860,) * 3, (0.3530,) * 3


class Student(nn.Module):
    """The student's forward on both crop groups, as one module for DDP."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, globals_, locals_):
        g_tok, g_pool = self.model.backbone(globals_)
        l_tok, l_pool = self.model.backbone(locals_)
        s_tok = torch.cat([g_tok.flatten(0, 1), l_tok.flatten(0, 1)])
        return self.model.head(torch.cat([g_pool, l_pool])), self.model.head_dense(s_tok), s_tok, l_tok.shape[1]


def arguments():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    add_model_arguments(ap, patch_size=4, local_crops=2)
    ap.add_argument("--batch-per-rank", type=int, default=32)
    ap.add_argument("--blur-sigma", type=float, nargs=2, default=[0.1, 0.5])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader worker processes per rank")
    ap.add_argument("--iters", type=int, default=40, help="timed iterations (after --warmup)")
    ap.add_argument("--warmup", type=int, default=5)
    return ap.parse_args()


def main():
    a = arguments()
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    random.seed(rank)
    c = model_config(a, a.batch_per_rank)
    model, teacher = EsViT(c), EsViT(c)
    teacher.load_state_dict(model.state_dict())
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = Student(model)
    if distributed:
        student = nn.parallel.DistributedDataParallel(student)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.04)
    data = FashionIDX(a.data, DINOAug(a.global_size, a.local_size, a.local_crops, MEAN, STD, tuple(a.blur_sigma)))
    sampler = torch.utils.data.DistributedSampler(data, world, rank, shuffle=True, seed=0) if distributed else None
    loader = torch.utils.data.DataLoader(data, batch_size=a.batch_per_rank, sampler=sampler, shuffle=sampler is None,
                                         num_workers=a.workers, drop_last=True, persistent_workers=a.workers > 0)
    K, B = a.out_dim, a.batch_per_rank
    center, center_grid = torch.zeros(1, K), torch.zeros(1, K)

    def step(crops):
        nonlocal center, center_grid
        globals_, locals_ = torch.cat(crops[:2]), torch.cat(crops[2:])
        with torch.no_grad():
            t_tok, t_pool = teacher.backbone(globals_)
            Tg = t_tok.shape[1]
            t_tok = t_tok.flatten(0, 1)
            t_view, t_region = teacher.head(t_pool), teacher.head_dense(t_tok)
        s_view, s_region, s_tok, Tl = student(globals_, locals_)
        loss = esvit_loss(s_view, s_region, s_tok, t_view, t_region, t_tok, center, center_grid, 0.04, c, Tg, Tl)[0]
        opt.zero_grad()
        loss.backward()
        clip_step_ema(model, teacher, opt)
        with torch.no_grad():
            sums = torch.cat([t_view.sum(0), t_region.sum(0)])
            if distributed:
                dist.all_reduce(sums)
            center = center * 0.9 + sums[:K].view(1, K) / (2 * B * world) * 0.1
            center_grid = center_grid * 0.9 + sums[K:].view(1, K) / (2 * B * Tg * world) * 0.1

    done, t0 = 0, None
    while done < a.warmup + a.iters:
        if sampler is not None:
            sampler.set_epoch(done)
        for crops, _ in loader:
            if done == a.warmup:
                if distributed:
                    dist.barrier()
                t0 = time.perf_counter()
            step(crops)
            done += 1
            if done == a.warmup + a.iters:
                break
    if distributed:
        dist.barrier()
    seconds = time.perf_counter() - t0
    rss = torch.tensor([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss], dtype=torch.float64)
    if distributed:
        dist.all_reduce(rss, op=dist.ReduceOp.MAX)
    if rank == 0:
        print(json.dumps({"img_s": a.iters * B * world / seconds, "peak_rss_kib": int(rss.item()),
                          "versions": f"torch {torch.__version__}, {world} process(es) × {a.threads} thread(s), {a.workers} loader worker(s)"}))
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
