"""Writes the torch.save fixtures of the .pth reader (Tests/ESModelTests/Fixtures/torch/), with
pinned torch (requirements.txt); CI never runs this, it only reads the files:
- state.pth: an upstream-style checkpoint (student with DDP's `module.` prefixes, teacher,
  dino_loss, epoch, args as argparse.Namespace) holding F32, F16, BF16, F64 and I64 tensors, a
  transposed view, a view at a storage offset sharing its storage, a 0-d tensor, and a real
  nn.Module state_dict (pickled with its `_metadata` attribute through BUILD);
- state.json: every tensor's dotted name, shape and values (row-major, as float), from torch;
- malicious.pth: a torch.save file whose pickle calls os.system when loaded by Python;
- eval.pth: the same with builtins.eval;
- legacy.pth: the pre-1.6 (non-ZIP) format.
"""
import argparse
import builtins
import json
import os
from collections import OrderedDict

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ESModelTests", "Fixtures", "torch")


class Payload:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    base = torch.arange(24, dtype=torch.float32) * 0.5 - 3
    student = OrderedDict()
    student["module.backbone.patch_embed.proj.weight"] = base[:12].view(3, 4)
    student["module.backbone.layers.0.blocks.0.attn.qkv.weight"] = base[:12].view(3, 4).t()   # transposed view
    student["module.backbone.norm.bias"] = base[5:9]                                          # offset view, shared storage
    student["module.backbone.layers.0.blocks.0.attn.relative_position_index"] = torch.tensor([[0, 3], [7, -2]], dtype=torch.int64)
    student["module.head.last_layer.weight_g"] = torch.tensor([[1.25], [-0.5]], dtype=torch.float16)
    student["module.head.mlp.0.bias"] = torch.tensor([0.1, -2.5, 3.0], dtype=torch.bfloat16)
    teacher = OrderedDict(("backbone.norm.weight" if i == 0 else "backbone.scale", t) for i, t in
                          enumerate([torch.tensor([1.5, -0.25], dtype=torch.float64), torch.tensor(2.75)]))
    ck = {"student": student, "teacher": teacher, "dino_loss": OrderedDict(center=torch.zeros(1, 3) + 0.125),
          "model": torch.nn.Linear(3, 2).state_dict(), "epoch": 7, "args": argparse.Namespace(arch="swin_tiny", lr=0.0005, use_dense_prediction=True, depths=[2, 2, 6, 2])}
    torch.save(ck, os.path.join(OUT, "state.pth"))
    expected = []

    def walk(v, path):
        if isinstance(v, torch.Tensor):
            expected.append({"name": path, "shape": list(v.shape), "values": v.contiguous().double().flatten().tolist()})
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else str(k))
    walk(ck, "")
    with open(os.path.join(OUT, "state.json"), "w") as f:
        json.dump({"torch": torch.__version__, "tensors": expected}, f, indent=1)
    torch.save({"w": torch.ones(2), "x": Payload(os.system, "echo pwned")}, os.path.join(OUT, "malicious.pth"))
    torch.save({"x": Payload(builtins.eval, "1+1")}, os.path.join(OUT, "eval.pth"))
    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
