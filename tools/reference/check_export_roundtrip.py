"""Round trip of weights between esvit and PyTorch, on a trained checkpoint (run by hand, not by CI;
pinned torch/timm in requirements.txt). Prints every figure and exits non-zero on a failure.

  .venv/bin/python tools/reference/check_export_roundtrip.py --checkpoint runs/x/checkpoint.safetensors \
      [--esvit .build/release/esvit] [--work /tmp/roundtrip]

1. `esvit export --format timm`: loads into timm's SwinTransformer with strict=True (kwargs and
   LayerNorm eps from the file's metadata); its pooled features on a random batch match
   `esvit forward` on the checkpoint within 1e-4 relative (max |Δ| / max |feature|).
2. `esvit export --format official`: the same after timm's own checkpoint_filter_fn (which maps the
   official names to timm's), strict=True; every block carries relative_position_index.
3. `esvit export --format torch`: upstream's layout after one load_file; the teacher backbone
   equals the official export; epoch and centers present.
4. The other way: the timm model's weights saved with torch.save in upstream EsViT's layout
   (`teacher` with `backbone.`, `student` with `module.backbone.`, heads, epoch, args) are read by
   `esvit forward --weights X.pth` (teacher and student) and give timm's features.
"""
import argparse
import functools
import json
import os
import subprocess
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from timm.models.swin_transformer import SwinTransformer, checkpoint_filter_fn


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def timm_model(path):
    meta = safe_open(path, "pt").metadata()
    kw = json.loads(meta["timm_kwargs"])
    norm = functools.partial(torch.nn.LayerNorm, eps=float(meta["layer_norm_eps"]))
    return SwinTransformer(**kw, norm_layer=norm).eval(), kw


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max()), float(np.abs(a - b).max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--esvit", default=".build/release/esvit")
    ap.add_argument("--work", default="/tmp/esvit-roundtrip")
    ap.add_argument("--images", type=int, default=16)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    w = lambda n: os.path.join(a.work, n)
    ok = True

    for fmt in ("timm", "official", "torch"):
        run([a.esvit, "export", "--checkpoint", a.checkpoint, "--format", fmt, "--out", w(f"{fmt}.safetensors")])
    model, kw = timm_model(w("timm.safetensors"))
    torch.manual_seed(0)
    x = torch.randn(a.images, kw["in_chans"], kw["img_size"], kw["img_size"])
    np.save(w("x.npy"), x.numpy())
    run([a.esvit, "forward", "--weights", a.checkpoint, "--input", w("x.npy"), "--features", w("f_esvit.npy")])
    ours = np.load(w("f_esvit.npy"))

    # 1. timm export, strict.
    missing = model.load_state_dict(load_file(w("timm.safetensors")), strict=True)
    with torch.no_grad():
        f_timm = model(x).numpy()
    r, d = rel(f_timm, ours)
    print(f"1. timm export: strict load ok ({missing}); timm vs esvit forward: max|Δ| {d:.3g}, relative {r:.3g} over {ours.size} features")
    ok &= r < 1e-4

    # 2. official export through timm's filter.
    official = load_file(w("official.safetensors"))
    blocks = sum(kw["depths"])
    n_index = sum(k.endswith("relative_position_index") for k in official)
    model2, _ = timm_model(w("timm.safetensors"))
    model2.load_state_dict(checkpoint_filter_fn(official, model2), strict=True)
    with torch.no_grad():
        f2 = model2(x).numpy()
    r2, d2 = rel(f2, ours)
    print(f"2. official export: {len(official)} tensors, relative_position_index in {n_index}/{blocks} blocks; "
          f"via timm's checkpoint_filter_fn, strict: max|Δ| {d2:.3g}, relative {r2:.3g}")
    ok &= r2 < 1e-4 and n_index == blocks

    # 3. torch layout.
    flat = load_file(w("torch.safetensors"))
    ck = {g: {k[len(g) + 1:]: v for k, v in flat.items() if k.startswith(g + ".")} for g in ("student", "teacher", "dino_loss")}
    tb = {k[len("backbone."):]: v for k, v in ck["teacher"].items() if k.startswith("backbone.")}
    same = set(tb) == set(official) and all(torch.equal(tb[k], official[k]) for k in tb)
    heads = sorted({k.split(".")[0] for k in ck["teacher"]})
    print(f"3. torch layout: {len(flat)} tensors; teacher modules {heads}, student keys start with "
          f"{sorted({k.split('.')[0] for k in ck['student']})}; teacher backbone == official export: {same}; "
          f"epoch {int(flat['epoch'])}; centers {sorted(ck['dino_loss'])}")
    ok &= same and all(k.startswith("module.") for k in ck["student"])

    # 4. .pth in upstream's layout → esvit forward.
    sd = model.state_dict()
    student = SwinTransformer(**kw, norm_layer=functools.partial(torch.nn.LayerNorm, eps=float(safe_open(w("timm.safetensors"), "pt").metadata()["layer_norm_eps"]))).eval()
    student.load_state_dict({k: v + 0.01 * torch.randn_like(v) for k, v in sd.items()}, strict=True)
    back = lambda m, p: {p + k: v for k, v in checkpoint_to_official(m.state_dict()).items()}
    torch.save({"teacher": back(model, "backbone."), "student": back(student, "module.backbone."), "epoch": 1,
                "args": argparse.Namespace(arch="swin_mini"), "dino_loss": {"center": torch.zeros(1, 8)}}, w("upstream.pth"))
    arch = ["--patch-size", str(kw["patch_size"]), "--embed-dim", str(kw["embed_dim"]), "--depths", ",".join(map(str, kw["depths"])),
            "--num-heads", ",".join(map(str, kw["num_heads"])), "--window-size", str(kw["window_size"]),
            "--in-chans", str(kw["in_chans"]), "--construct-size", str(kw["img_size"])]
    for which, m in (("teacher", model), ("student", student)):
        out = run([a.esvit, "forward", "--weights", w("upstream.pth"), "--which", which, "--input", w("x.npy"),
                   "--features", w(f"f_{which}.npy")] + arch)
        with torch.no_grad():
            want = m(x).numpy()
        r4, d4 = rel(np.load(w(f"f_{which}.npy")), want)
        print(f"4. upstream .pth {which} → esvit forward vs timm: max|Δ| {d4:.3g}, relative {r4:.3g} ({out.splitlines()[0]})")
        ok &= r4 < 1e-4
    print("round trip: " + ("PASS" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


def checkpoint_to_official(state):
    """timm names → official (EsViT) names: the merge at the start of timm's stage s+1 ends stage s."""
    out = {}
    for k, v in state.items():
        p = k.split(".")
        if len(p) > 3 and p[0] == "layers" and p[2] == "downsample":
            k = ".".join(["layers", str(int(p[1]) - 1)] + p[2:])
        out[k] = v
    return out


if __name__ == "__main__":
    main()
