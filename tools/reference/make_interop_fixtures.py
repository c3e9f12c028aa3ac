"""Writes the interop fixtures of the weights-file tests (Tests/ESEvalTests/Fixtures/interop/) with
pinned torch and timm (requirements.txt); CI never runs this, it only reads the files.

A tiny timm Swin (16 px, patch 2, embed 8, depths 2,2, heads 1,2, window 4, LayerNorm eps 1e-6)
with every parameter perturbed away from its initial value, then:
- tiny_timm.safetensors: its state_dict as timm names it (layers.1.downsample = the merge
  that ends stage 0; no relative_position_index, timm's buffers are not persistent);
- tiny_esvit.pth: a torch.save checkpoint in upstream EsViT's layout: teacher = that backbone
  under official names (`backbone.`, with the relative_position_index buffers) plus a DINO head,
  student = a different backbone under DDP's `module.backbone.`, a real AdamW state_dict,
  dino_loss centers, epoch and args (argparse.Namespace);
- tiny_timm_eps1e-5.safetensors: a third such Swin with timm's default LayerNorm eps (1e-5), as
  timm and official Swin releases have it, its patch embedding scaled down so that eps matters;
- tiny_expected.json: the configuration, an input batch (2, 3, 16, 16) and the pooled features
  timm computes for the teacher, the student and the eps-1e-5 Swin, and for that Swin's weights
  under eps 1e-6.
"""
import argparse
import functools
import json
import os
from collections import OrderedDict

import torch
import timm
from safetensors.torch import save_file
from timm.models.swin_transformer import SwinTransformer

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ESEvalTests", "Fixtures", "interop")
KW = dict(img_size=16, patch_size=2, in_chans=3, embed_dim=8, depths=(2, 2), num_heads=(1, 2), window_size=4, mlp_ratio=4.0, num_classes=0)


def model(seed, eps=1e-6, embed_scale=1.0):
    torch.manual_seed(seed)
    m = SwinTransformer(**KW, norm_layer=functools.partial(torch.nn.LayerNorm, eps=eps)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.2)
        m.patch_embed.proj.weight.mul_(embed_scale)
        m.patch_embed.proj.bias.mul_(embed_scale)
    return m


def official(state, m):
    """timm names → EsViT/official names, with the index buffers EsViT's state_dict holds."""
    out = OrderedDict()
    for k, v in state.items():
        parts = k.split(".")
        if len(parts) > 3 and parts[0] == "layers" and parts[2] == "downsample":
            k = ".".join(["layers", str(int(parts[1]) - 1)] + parts[2:])
        out[k] = v.clone()   # a copy: the optimizer step below must not reach the saved weights
    for s, stage in enumerate(m.layers):
        for b, blk in enumerate(stage.blocks):
            out[f"layers.{s}.blocks.{b}.attn.relative_position_index"] = blk.attn.relative_position_index.clone()
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    # The eps-1e-5 Swin's patch embedding is scaled down so that the patch norm's input variance
    # (about 1e-6) is of the order of eps: the two eps values then give clearly different features.
    teacher, student, plain = model(0), model(1), model(3, eps=1e-5, embed_scale=0.0015)
    plain6 = model(3, eps=1e-6, embed_scale=0.0015)   # the same weights under EsViT's eps
    torch.manual_seed(2)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ft, fs, fp, fp6 = teacher(x), student(x), plain(x), plain6(x)
    print("eps effect on the eps-1e-5 Swin's features: max |Δ| %.3g" % (fp - fp6).abs().max().item())
    save_file({k: v.contiguous() for k, v in teacher.state_dict().items()}, os.path.join(OUT, "tiny_timm.safetensors"))
    save_file({k: v.contiguous() for k, v in plain.state_dict().items()}, os.path.join(OUT, "tiny_timm_eps1e-5.safetensors"))
    head = OrderedDict([("head.mlp.0.weight", torch.randn(6, 16)), ("head.mlp.0.bias", torch.zeros(6)),
                        ("head.last_layer.weight_g", torch.ones(5, 1)), ("head.last_layer.weight_v", torch.randn(5, 6))])
    t_sd = OrderedDict([("backbone." + k, v) for k, v in official(teacher.state_dict(), teacher).items()] + list(head.items()))
    s_sd = OrderedDict([("module.backbone." + k, v) for k, v in official(student.state_dict(), student).items()]
                       + [("module." + k, v) for k, v in head.items()])
    opt = torch.optim.AdamW(list(student.parameters())[:3], lr=1e-3)
    student(x).sum().backward()
    opt.step()
    ck = {"student": s_sd, "teacher": t_sd, "optimizer": opt.state_dict(), "epoch": 3,
          "args": argparse.Namespace(arch="swin_tiny", out_dim=5, use_dense_prediction=False),
          "dino_loss": OrderedDict(center=torch.zeros(1, 5))}
    torch.save(ck, os.path.join(OUT, "tiny_esvit.pth"))
    with open(os.path.join(OUT, "tiny_expected.json"), "w") as f:
        json.dump({"torch": torch.__version__, "timm": timm.__version__, "timm_kwargs": KW, "layer_norm_eps": 1e-6,
                   "input_shape": list(x.shape), "input": x.flatten().tolist(),
                   "teacher_features": ft.flatten().tolist(), "student_features": fs.flatten().tolist(),
                   "eps1e5_features": fp.flatten().tolist(), "eps1e5_weights_eps1e6_features": fp6.flatten().tolist()}, f)


if __name__ == "__main__":
    main()
