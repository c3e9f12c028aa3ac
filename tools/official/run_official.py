#!/usr/bin/env python3
"""Runs the official EsViT pretraining code (https://github.com/microsoft/esvit) on CPU, sized
and configured like esvit's Fashion-MNIST recipe, so both can be compared on the same machine.

What it implements: self-supervised pretraining of a Swin backbone with DINO's view loss (L_V)
and, unless --use-dense-prediction false, EsViT's region loss (0.5 L_V + 0.5 L_R), for a fixed
number of iterations, in one process with N threads or under torchrun with N processes (gloo).
What runs is the official code, imported from --esvit-repo: the model builder and Swin
(models/swin_transformer.py, config/, an official-style YAML, tools/official/swin_mini.yaml),
DINOHead, DINOLoss/DDINOLoss, train_one_epoch (forward, loss, backward, clip_gradients,
cancel_gradients_last_layer, AdamW step, teacher EMA), utils.init_distributed_mode,
fix_random_seeds, cosine_scheduler, get_params_groups, save_on_master, and
datasets/build.py's DataAugmentationDINO. Ours is glue only: options, the Fashion-MNIST reader,
the data loader (as datasets/build.py builds it), the loop, logging and saving.

Iterations: every official "epoch" here is ONE iteration (a loader of one batch), and
args.epochs = --iterations. The official per-iteration schedules (cosine_scheduler with one
iteration per epoch), per-epoch teacher temperature (DDINOLoss.teacher_temp_schedule) and
per-epoch last-layer freeze then hold per iteration, which is what esvit does in its iteration
mode, where the warmups and the freeze are fractions of the run, rounded half away from zero:
W = round(N · warmup fraction) etc. (esvit's PretrainConfig.fractionLengths). The checkpoint's
'epoch' therefore counts iterations. The sampler still steps its epoch after each real pass.

Getting the official code: a checkout of https://github.com/microsoft/esvit, e.g.
    git clone https://github.com/microsoft/esvit esvit-git
    mkdir -p DIR && git -C esvit-git archive HEAD | tar -x -C DIR
and pass --esvit-repo DIR. None of its code is copied here; it is imported at run time.

Run-time patches (all of them; the code targets CUDA, torch 1.x and timm 0.4):
 1. models/__init__.py is skipped: it imports every architecture, and cvt_v4_transformer.py
    needs torch._six (gone in torch 2). A bare `models` package (sys.modules, __path__ set) is
    made, models.swin_transformer imported directly, and models.build_model bound from
    models/build.py for main_esvit's `from models import build_model`.
 2. timm.data.transforms._pil_interp (removed in timm 0.9; main_esvit.py imports it) is aliased
    to timm.data.transforms.str_to_pil_interp, its successor.
 3. No CUDA: torch.Tensor.cuda returns the tensor itself (train_one_epoch moves the crops);
    torch.cuda.synchronize and torch.cuda.set_device are no-ops; torch.tensor(..., device='cuda')
    makes the tensor on the CPU (utils.SmoothedValue.synchronize_between_processes).
 4. torch.distributed.init_process_group: backend "nccl" becomes "gloo"
    (utils.init_distributed_mode). The student's DDP wrapper is built without device_ids.
 5. main_esvit.model = the DDP student: the fp32 branch of train_one_epoch calls
    utils.clip_gradients(model, ...) with `model` undefined (a NameError upstream; the fp16
    branch passes `student`). fp16 is off on CPU, so this branch runs.
 6. DataAugmentationDINO, on the instance after construction: the global RandomResizedCrop
    size (hard-coded 224) becomes --global-size; utils.GaussianBlur's radius range (0.1-2.0)
    becomes --blur-sigma; Normalize's ImageNet mean/std become the dataset's (esvit's
    MultiCropConfig.fashionMean/fashionStd) unless --imagenet-normalize. The local size is
    the constructor's own argument.
Glue that differs from main_esvit.py on purpose: DINOHead gets esvit's hidden and bottleneck
widths (main_esvit.py uses the class defaults 2048/256); the loader does not pin memory and has
--num-workers workers (upstream: 10); no resume from an existing checkpoint.
"""
import argparse
import importlib
import json
import math
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
import types
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
FASHION_MEAN, FASHION_STD = (0.2860,) * 3, (0.3530,) * 3
STACK_HINT = ("install the pinned stack of tools/reference/requirements.txt (torch, numpy, timm, yacs, einops; "
              "torchvision without its dependencies): grep -v '^torchvision' tools/reference/requirements.txt | "
              "pip install -r /dev/stdin && pip install --no-deps \"$(grep '^torchvision' tools/reference/requirements.txt)\"")
REPO_HINT = ("a checkout of https://github.com/microsoft/esvit: git clone it, then "
             "`mkdir -p DIR && git -C CLONE archive HEAD | tar -x -C DIR`, and pass --esvit-repo DIR")


def fail(message):
    sys.stderr.write(f"run_official: error: {message}\n")
    sys.exit(2)


# ---------------------------------------------------------------- options

class HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one."""

    def _get_help_string(self, action):
        return action.help if action.default in (None, False) else super()._get_help_string(action)


def parse_options(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " Defaults are esvit's fm-quick recipe "
        "(swin_mini with patch 4, heads 512/128/K 4096, 2x32 + 2x16 px crops, global batch 64).",
        formatter_class=HelpWithDefaults)
    add_run_options(p.add_argument_group("run"))
    add_recipe_options(p.add_argument_group("recipe (defaults: esvit's fm-quick)"))
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE pairs that override the YAML, as main_esvit.py's opts")
    o = p.parse_args(argv)
    if not o.esvit_repo:
        fail("--esvit-repo DIR is required: " + REPO_HINT)
    if not os.path.isfile(os.path.join(o.esvit_repo, "main_esvit.py")):
        fail(f"--esvit-repo {o.esvit_repo} has no main_esvit.py: it should be " + REPO_HINT)
    if o.selftest:
        o.iterations, o.batch_size, o.limit = 3, 16, o.limit or 64
    if o.iterations is None or o.iterations < 1:
        fail("--iterations N (N >= 1) is required, e.g. --iterations 20")
    o.global_size = o.global_size or (64 if o.dataset == "fashion-scenes" else 32)
    o.local_size = o.local_size or o.global_size // 2
    o.data_path = o.data_path or (FASHION_MNIST if o.dataset == "fashion-mnist" else None)
    if not o.print_schedules:
        check_data_path(o)
    if not (o.print_schedules or o.selftest):
        check_output_dir(o)
    return o


def add_run_options(g):
    a = g.add_argument
    a("--esvit-repo", metavar="DIR", help="folder with the official code (main_esvit.py, models/, utils.py): " + REPO_HINT)
    a("--cfg", default=os.path.join(HERE, "swin_mini.yaml"), help="official-style YAML of the backbone")
    a("--dataset", choices=["fashion-mnist", "fashion-scenes"], default="fashion-mnist",
      help="fashion-mnist: the IDX files (gray 28x28, replicated to RGB); fashion-scenes: the "
           "64x64 scenes as `esvit prepare fashion-scenes --out DIR` writes them (DIR/train/<class>/*.jpg)")
    a("--data-path", help=f"dataset location (fashion-mnist default: {FASHION_MNIST}; fashion-scenes: the prepare --out DIR)")
    a("--limit", type=int, help="use only the first N training images")
    a("--iterations", type=int, help="optimizer iterations of the run (required to train or print schedules)")
    a("--seed", type=int, default=0, help="seed for utils.fix_random_seeds (all ranks, as upstream)")
    a("--threads", type=int, help="torch threads per process (default: 1 under torchrun, else the usable cores)")
    a("--num-workers", type=int, default=1, help="DataLoader worker processes per process (0: load in the main process)")
    a("--output-dir", help="where checkpoint.pth and log.txt go (required to train; must not hold a checkpoint.pth)")
    a("--saveckp-iters", type=int, default=0, help="also write checkpoint.pth every N iterations (0: only at the end)")
    a("--log-every", type=int, default=10, help="progress line every N iterations")
    a("--print-schedules", action="store_true",
      help="print lr, wd, momentum, teacher temperature and last-layer freeze per iteration (TSV) for "
           "--iterations and exit, to compare with esvit's schedules for the same run length")
    a("--selftest", action="store_true",
      help="3 iterations on 64 Fashion-MNIST images (global batch 16), both arms (in --output-dir/region and "
           "/noregion, else a temporary folder); checks finite losses, that checkpoint.pth reloads, that the "
           "student changed; prints 'selftest: ok' and exits 0, or names the failure and exits 1")


def add_recipe_options(g):
    a = g.add_argument
    a("--use-dense-prediction", choices=["true", "false"], default="true",
      help="region loss on (EsViT: 0.5 L_V + 0.5 L_R) or off (DINO's L_V alone), as esvit's option")
    a("--batch-size", type=int, default=64, help="global batch (split evenly over the processes)")
    a("--lr", type=float, default=0.002, help="base lr per 256 images (peak = lr x global batch / 256)")
    a("--min-lr", type=float, default=1e-6, help="final lr of the cosine schedule")
    a("--weight-decay", type=float, default=0.04, help="initial weight decay (cosine schedule)")
    a("--weight-decay-end", type=float, default=0.4, help="final weight decay")
    a("--momentum-teacher", type=float, default=0.99, help="base teacher EMA momentum (cosine to 1)")
    a("--warmup-teacher-temp", type=float, default=0.04, help="initial teacher temperature")
    a("--teacher-temp", type=float, default=0.04, help="final teacher temperature")
    a("--clip-grad", type=float, default=3.0, help="per-tensor gradient norm limit (0: off)")
    a("--warmup-fraction", type=float, default=10 / 300, help="lr warmup, a fraction of --iterations")
    a("--warmup-teacher-temp-fraction", type=float, default=30 / 300, help="temperature warmup fraction")
    a("--freeze-last-layer-fraction", type=float, default=1 / 300, help="last-layer freeze fraction")
    a("--out-dim", type=int, default=4096, help="head output dimension K (view and region heads)")
    a("--hidden-dim", type=int, default=512, help="head hidden width")
    a("--bottleneck-dim", type=int, default=128, help="head bottleneck width")
    a("--norm-last-layer", choices=["true", "false"], default="false", help="weight-normalised last layer with g fixed")
    a("--global-size", type=int, help="global crop size; also TRAIN.IMAGE_SIZE (default 32, scenes 64)")
    a("--local-size", type=int, help="local crop size (default: half the global size)")
    a("--local-crops-number", type=int, default=2, help="local crops per image")
    a("--global-crops-scale", type=float, nargs=2, default=[0.4, 1.0], help="RandomResizedCrop scale of global crops")
    a("--local-crops-scale", type=float, nargs=2, default=[0.05, 0.4], help="RandomResizedCrop scale of local crops")
    a("--blur-sigma", type=float, nargs=2, default=[0.1, 0.5], help="GaussianBlur radius range in pixels")
    a("--imagenet-normalize", action="store_true", help="keep upstream's ImageNet mean/std instead of the dataset's")


def check_output_dir(o):
    if not o.output_dir:
        fail("--output-dir DIR is required: checkpoint.pth and log.txt go there")
    if os.path.exists(os.path.join(o.output_dir, "checkpoint.pth")):
        fail(f"{o.output_dir}/checkpoint.pth exists and this tool does not resume: choose another --output-dir or remove it")


def check_data_path(o):
    if o.dataset == "fashion-mnist":
        f = os.path.join(o.data_path or "", "train-images-idx3-ubyte.gz")
        if not os.path.isfile(f):
            fail(f"no {f}: install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
                 "or point --data-path at a folder with the gzip IDX files")
    elif not o.data_path or not os.path.isdir(os.path.join(o.data_path, "train")):
        fail(f"--dataset fashion-scenes needs --data-path DIR with DIR/train/<class>/*.jpg "
             f"(got {o.data_path}); write it with `esvit prepare fashion-scenes --out DIR`")


def fraction_lengths(n, o):
    """esvit's PretrainConfig.fractionLengths: Swift's rounded() rounds half away from zero."""
    def r(f):
        return int(math.floor(f * n + 0.5))
    return r(o.warmup_fraction), r(o.warmup_teacher_temp_fraction), r(o.freeze_last_layer_fraction)


# ---------------------------------------------------------------- the official code

def require_stack():
    try:
        import numpy, torch, torchvision, timm, yacs, einops  # noqa: F401,E401
    except ImportError as e:
        fail(f"{e.name} is missing: {STACK_HINT}")


def import_official(repo):
    """Imports main_esvit.py and what it uses from `repo`, with patches 1-4 (see the header)."""
    import torch
    import torch.distributed as dist
    import timm.data.transforms as timm_transforms
    warnings.filterwarnings("ignore", category=FutureWarning)    # torch.cuda.amp, timm.models.layers, weight_norm
    warnings.filterwarnings("ignore", category=SyntaxWarning)    # `is '*'` in models/swin_transformer.py
    warnings.filterwarnings("ignore", message="torch.meshgrid")  # WindowAttention's meshgrid without indexing=
    repo = os.path.abspath(repo)
    sys.path.insert(0, repo)
    timm_transforms._pil_interp = timm_transforms.str_to_pil_interp                     # patch 2
    models = types.ModuleType("models")                                                 # patch 1
    models.__path__ = [os.path.join(repo, "models")]
    sys.modules["models"] = models
    importlib.import_module("models.swin_transformer")
    models.build_model = importlib.import_module("models.build").build_model
    patch_cuda(torch, dist)
    main = importlib.import_module("main_esvit")
    return types.SimpleNamespace(main=main, utils=main.utils, config=main.config,
                                 augmentation=importlib.import_module("datasets.build").DataAugmentationDINO)


def patch_cuda(torch, dist):
    """Patches 3 and 4."""
    make_tensor, init_group = torch.tensor, dist.init_process_group

    def tensor_on_cpu(*args, device=None, **kwargs):
        return make_tensor(*args, device="cpu" if str(device).startswith("cuda") else device, **kwargs)

    def init_gloo(backend=None, *args, **kwargs):
        return init_group("gloo" if backend in (None, "nccl") else backend, *args, **kwargs)

    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.cuda.synchronize = lambda *args, **kwargs: None
    torch.cuda.set_device = lambda *args, **kwargs: None
    torch.tensor = tensor_on_cpu
    dist.init_process_group = init_gloo


def official_args(off, o, dense, output_dir, world):
    """main_esvit's argparse Namespace, parsed by its own parser from its own flags."""
    N = o.iterations
    W, Wt, F = fraction_lengths(N, o)
    if o.batch_size % world:
        fail(f"--batch-size {o.batch_size} does not split evenly over {world} processes")
    flags = {"arch": "swin", "cfg": o.cfg, "out_dim": o.out_dim, "norm_last_layer": o.norm_last_layer,
             "momentum_teacher": o.momentum_teacher, "use_dense_prediction": str(dense).lower(),
             "warmup_teacher_temp": o.warmup_teacher_temp, "teacher_temp": o.teacher_temp,
             "warmup_teacher_temp_epochs": Wt, "use_fp16": "false", "weight_decay": o.weight_decay,
             "weight_decay_end": o.weight_decay_end, "clip_grad": o.clip_grad,
             "batch_size_per_gpu": o.batch_size // world, "epochs": N, "freeze_last_layer": F, "lr": o.lr,
             "warmup_epochs": W, "min_lr": o.min_lr, "optimizer": "adamw",
             "global_crops_scale": o.global_crops_scale, "local_crops_number": o.local_crops_number,
             "local_crops_scale": o.local_crops_scale, "local_crops_size": o.local_size,
             "dataset": o.dataset, "data_path": o.data_path or "", "output_dir": output_dir,
             "seed": o.seed, "num_workers": o.num_workers}
    argv = []
    for k, v in flags.items():
        argv += [f"--{k}"] + [str(x) for x in (v if isinstance(v, list) else [v])]
    opts = ["TRAIN.IMAGE_SIZE", f"[{o.global_size}, {o.global_size}]"] + list(o.opts or [])
    args = off.main.get_args_parser().parse_args(argv + opts)
    args.harness = {"iterations": N, "one_iteration_per_epoch": True, "global_crops_size": o.global_size,
                    "blur_sigma": o.blur_sigma, "hidden_dim": o.hidden_dim, "bottleneck_dim": o.bottleneck_dim,
                    "normalize": "imagenet" if o.imagenet_normalize else "dataset", "limit": o.limit,
                    "threads": o.threads, "world_size": world, "num_workers": o.num_workers}
    return args


def schedules(off, args):
    """main_esvit.py's three schedules, with len(data_loader) = 1 (one iteration per epoch)."""
    u = off.utils
    lr = u.cosine_scheduler(args.lr * (args.batch_size_per_gpu * u.get_world_size()) / 256., args.min_lr,
                            args.epochs, 1, warmup_epochs=args.warmup_epochs)
    wd = u.cosine_scheduler(args.weight_decay, args.weight_decay_end, args.epochs, 1)
    momentum = u.cosine_scheduler(args.momentum_teacher, 1, args.epochs, 1)
    return lr, wd, momentum


def build_loss(off, args):
    Loss = off.main.DDINOLoss if args.use_dense_prediction else off.main.DINOLoss
    return Loss(args.out_dim, sum(args.local_crops_number) + 2, args.warmup_teacher_temp, args.teacher_temp,
                args.warmup_teacher_temp_epochs, args.epochs)


def print_schedules(off, args):
    lr, wd, momentum = schedules(off, args)
    temp = build_loss(off, args).teacher_temp_schedule
    print(f"# {args.epochs} iterations, global batch {args.batch_size_per_gpu * off.utils.get_world_size()}: "
          f"lr warmup {args.warmup_epochs}, temperature warmup {args.warmup_teacher_temp_epochs}, "
          f"last layer frozen for {args.freeze_last_layer} iteration(s)")
    if args.warmup_epochs == 1:
        print("# note: a 1-iteration warmup is np.linspace(0, peak, 1) = [0] upstream, so lr[0] = 0 (as esvit's CosineSchedule)")
    print("iteration\tlr\twd\tmomentum\tteacher_temp\tfreeze_last_layer")
    for it in range(args.epochs):
        print(f"{it}\t{lr[it]:.17g}\t{wd[it]:.17g}\t{momentum[it]:.17g}\t{temp[it]:.17g}\t{int(it < args.freeze_last_layer)}")


def build_networks(off, args, o):
    """Student (DDP) and teacher as main_esvit.py builds them for 'swin' archs, in its order."""
    import torch.nn as nn
    off.main.update_config(off.config, args)
    nets = [off.main.build_model(off.config, is_teacher=t, use_dense_prediction=args.use_dense_prediction)
            for t in (False, True)]
    for name in ("head", "head_dense") if args.use_dense_prediction else ("head",):
        for net, norm in zip(nets, ({"norm_last_layer": args.norm_last_layer}, {})):
            setattr(net, name, off.main.DINOHead(net.num_features, args.out_dim, use_bn=args.use_bn_in_head,
                                                 hidden_dim=o.hidden_dim, bottleneck_dim=o.bottleneck_dim, **norm))
    student, teacher = nets
    student = nn.parallel.DistributedDataParallel(student)                             # patch 4: no device_ids
    teacher.load_state_dict(student.module.state_dict())
    for p in teacher.parameters():
        p.requires_grad = False
    return student, teacher


# ---------------------------------------------------------------- data

class FashionMNIST:
    """The training split of Fashion-MNIST's IDX files as PIL RGB images (gray replicated, as esvit)."""

    def __init__(self, root, transform, limit=None):
        import gzip
        import numpy as np
        with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
            self.images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:limit]
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i]).convert("RGB")), 0


def augmentation(off, args, o):
    """The official DataAugmentationDINO with patch 6 (see the header)."""
    from torchvision import transforms
    aug = off.augmentation(args.global_crops_scale, args.local_crops_scale, args.local_crops_number,
                           args.local_crops_size)
    for pipeline in (aug.global_transfo1, aug.global_transfo2):
        pipeline.transforms[0].size = (o.global_size, o.global_size)
    for t in nested([aug.global_transfo1, aug.global_transfo2] + aug.local_transfo):
        if isinstance(t, off.utils.GaussianBlur):
            t.radius_min, t.radius_max = o.blur_sigma
        if isinstance(t, transforms.Normalize) and not o.imagenet_normalize:
            t.mean, t.std = FASHION_MEAN, FASHION_STD
    return aug


def nested(transforms):
    """Every transform inside `transforms`, through Compose and RandomApply."""
    for t in transforms:
        yield t
        yield from nested(getattr(t, "transforms", []))


def data_loader(off, args, o):
    """As datasets/build.py's build_dataloader: DistributedSampler(shuffle), drop_last."""
    import torch
    from torchvision import datasets
    aug = augmentation(off, args, o)
    if o.dataset == "fashion-mnist":
        data = FashionMNIST(o.data_path, aug, o.limit)
    else:
        data = datasets.ImageFolder(os.path.join(o.data_path, "train"), transform=aug)
        if o.limit:
            data = torch.utils.data.Subset(data, range(min(o.limit, len(data))))
    sampler = torch.utils.data.DistributedSampler(data, shuffle=True)
    loader = torch.utils.data.DataLoader(data, sampler=sampler, batch_size=args.batch_size_per_gpu,
                                         num_workers=args.num_workers, drop_last=True)
    if len(loader) == 0:
        fail(f"{len(data)} images are fewer than one batch of {args.batch_size_per_gpu} per process")
    return data, loader


def endless(loader):
    epoch = 0
    while True:
        loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


class OneBatch:
    """A loader of one batch: train_one_epoch then runs exactly one iteration."""

    def __init__(self, stream):
        self.stream = stream

    def __len__(self):
        return 1

    def __iter__(self):
        yield next(self.stream)


# ---------------------------------------------------------------- training

def prepare(off, o, dense, output_dir):
    """Everything main_esvit.train_esvit builds before its epoch loop, in its order."""
    import torch
    world = int(os.environ["WORLD_SIZE"])
    args = official_args(off, o, dense, output_dir, world)
    u = off.utils
    args.rank, args.world_size, args.gpu = u.get_rank(), world, int(os.environ["LOCAL_RANK"])
    u.fix_random_seeds(args.seed)
    data, loader = data_loader(off, args, o)
    student, teacher = build_networks(off, args, o)
    run = types.SimpleNamespace(args=args, loader=loader, student=student, teacher=teacher,
                                dino_loss=build_loss(off, args), optimizer=torch.optim.AdamW(u.get_params_groups(student)))
    run.lr, run.wd, run.momentum = schedules(off, args)
    off.main.model = student                                                            # patch 5
    norm = "ImageNet's (upstream)" if o.imagenet_normalize else f"the dataset's, mean {FASHION_MEAN[0]} std {FASHION_STD[0]}"
    print(f"official EsViT, {'L_V + L_R' if dense else 'L_V only'}: {len(data)} images, {world} process(es) x "
          f"{torch.get_num_threads()} thread(s), batch {args.batch_size_per_gpu} per process, {args.epochs} iterations; "
          f"crops 2x{o.global_size} + {o.local_crops_number}x{o.local_size} px; normalisation {norm}")
    return run


def train(off, o, dense, output_dir):
    """One run; returns its losses and the student's parameters before and after."""
    run, u = prepare(off, o, dense, output_dir), off.utils
    before = [p.detach().clone() for p in run.student.module.parameters()]
    losses, seconds, stream = [], [], endless(run.loader)
    log = open(os.path.join(output_dir, "log.txt"), "a") if u.is_main_process() else None
    for it in range(run.args.epochs):
        t0 = time.perf_counter()
        stats = off.main.train_one_epoch(run.student, run.teacher, run.teacher, run.dino_loss, OneBatch(stream),
                                         run.optimizer, run.lr, run.wd, run.momentum, it, None, None, run.args)
        seconds.append(time.perf_counter() - t0)
        losses.append(stats["loss"])
        log_iteration(run, o, it, stats["loss"], seconds[-1], log)
        if o.saveckp_iters and (it + 1) % o.saveckp_iters == 0:
            save(u, run, it + 1, output_dir)
    save(u, run, run.args.epochs, output_dir)
    stream.close()                                     # ends the loader's workers, so their peak RSS is counted
    if log:
        log.close()
    report_speed(o, seconds)
    return losses, before, [p.detach().clone() for p in run.student.module.parameters()]


def log_iteration(run, o, it, loss, seconds, log):
    """A JSON line in log.txt ('iteration' counts finished iterations, as esvit's) and a progress line."""
    record = {"iteration": it + 1, "loss": loss, "lr": run.lr[it], "wd": run.wd[it], "momentum": run.momentum[it],
              "teacher_temp": run.dino_loss.teacher_temp_schedule[it], "freeze_last_layer": it < run.args.freeze_last_layer,
              "step_s": seconds, "img_per_s": o.batch_size / seconds}
    if log:
        log.write(json.dumps(record) + "\n")
        log.flush()
    if it == 0 or (it + 1) % o.log_every == 0 or it + 1 == run.args.epochs:
        print(f"it {it + 1}/{run.args.epochs}  loss {loss:.4f}  lr {record['lr']:.3e}  wd {record['wd']:.4f}  "
              f"mom {record['momentum']:.5f}  temp {record['teacher_temp']:.4f}  {record['img_per_s']:.1f} img/s")


def save(u, run, done, output_dir):
    """main_esvit.py's save_dict (no fp16_scaler: fp16 is off); 'epoch' counts iterations here."""
    save_dict = {"student": run.student.state_dict(), "teacher": run.teacher.state_dict(),
                 "optimizer": run.optimizer.state_dict(), "epoch": done, "args": run.args,
                 "dino_loss": run.dino_loss.state_dict()}
    u.save_on_master(save_dict, os.path.join(output_dir, "checkpoint.pth"))


def report_speed(o, seconds):
    """Images per second and the peak RSS of the largest process (and of the largest loader worker)."""
    import torch
    import torch.distributed as dist
    steady = seconds[1:] or seconds
    rss = torch.tensor([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss], dtype=torch.float64)
    dist.all_reduce(rss, op=dist.ReduceOp.MAX)
    print(f"speed: {o.batch_size * len(seconds) / sum(seconds):.1f} img/s over all {len(seconds)} iterations, "
          f"{o.batch_size * len(steady) / sum(steady):.1f} img/s without the first; "
          f"peak RSS {rss[0].item() / 1024:.0f} MiB (largest process), loader workers {rss[1].item() / 1024:.0f} MiB")


# ---------------------------------------------------------------- entry points

def single_process_environment():
    """utils.init_distributed_mode needs a launcher's variables: one process is a world of one."""
    if "RANK" in os.environ:
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))


def shared_temporary_dir():
    import torch.distributed as dist
    path = [tempfile.mkdtemp(prefix="run_official_selftest_") if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(path)
    return path[0]


def selftest(off, o):
    import torch
    import torch.distributed as dist
    problems, root = [], o.output_dir or shared_temporary_dir()
    for dense in (True, False):
        name = "region" if dense else "noregion"
        out = os.path.join(root, name)
        os.makedirs(out, exist_ok=True)
        losses, before, after = train(off, o, dense, out)
        if not all(math.isfinite(x) for x in losses):
            problems.append(f"{name}: a loss is not finite: {losses}")
        if not any(not torch.equal(a, b) for a, b in zip(before, after)):
            problems.append(f"{name}: the student's parameters did not change")
        if dist.get_rank() == 0:
            problems += check_checkpoint(os.path.join(out, "checkpoint.pth"), name, dense)
    failed = torch.tensor([float(len(problems))])
    dist.all_reduce(failed)
    for p in problems:
        print(f"selftest: FAILED: {p}", force=True)
    if not o.output_dir and dist.get_rank() == 0:
        shutil.rmtree(root)
    print("selftest: ok" if failed.item() == 0 else "selftest: FAILED (see above)")
    return 0 if failed.item() == 0 else 1


def check_checkpoint(path, name, dense):
    import torch
    if not os.path.isfile(path):
        return [f"{name}: {path} was not written"]
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)      # args is a pickled Namespace
    except Exception as e:                                                   # noqa: BLE001 - report any failure
        return [f"{name}: {path} does not load: {e}"]
    missing = {"student", "teacher", "optimizer", "epoch", "args", "dino_loss"} - set(ck)
    region_center = "center_grid" in ck.get("dino_loss", {})
    return ([f"{name}: checkpoint lacks {sorted(missing)}"] if missing else []) + \
        ([f"{name}: dino_loss has center_grid {region_center}, expected {dense}"] if region_center != dense else [])


def main():
    o = parse_options()
    require_stack()
    import torch
    off = import_official(o.esvit_repo)
    if o.print_schedules:
        print_schedules(off, official_args(off, o, o.use_dense_prediction == "true", o.output_dir or "", 1))
        return 0
    single_process_environment()
    o.threads = o.threads or (1 if "LOCAL_WORLD_SIZE" in os.environ else len(os.sched_getaffinity(0)))
    torch.set_num_threads(o.threads)
    off.utils.init_distributed_mode(official_args(off, o, True, "", int(os.environ["WORLD_SIZE"])))
    if o.selftest:
        return selftest(off, o)
    os.makedirs(o.output_dir, exist_ok=True)
    train(off, o, o.use_dense_prediction == "true", o.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
