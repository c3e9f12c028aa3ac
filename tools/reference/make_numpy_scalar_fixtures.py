"""Writes the .pth fixtures whose optimizer state holds numpy scalars, as DINO's and EsViT's
training checkpoints do: main_esvit.py sets param_group["lr"] and ["weight_decay"] from numpy
schedules, so torch.save pickles numpy.float64 values through numpy's scalar constructor, which
numpy 1 names numpy.core.multiarray.scalar and numpy 2 numpy._core.multiarray.scalar.

Run it once under each numpy (torch 2.15, pinned in requirements.txt); CI only reads the files:
  python tools/reference/make_numpy_scalar_fixtures.py                      # numpy 2.4.6: numpy._core
  pip install --target /tmp/np1 numpy==1.26.4
  PYTHONPATH=/tmp/np1 python tools/reference/make_numpy_scalar_fixtures.py  # numpy 1.26.4: numpy.core
Each run writes Tests/ESModelTests/Fixtures/torch/numpy_scalars-<module>.pth and .json (the
module spelling the pickle uses, the param groups' float64 bit patterns in hex, the other scalars' values and every tensor's name and values).
"""
import argparse
import json
import os
import pickle
import struct
from collections import OrderedDict

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ESModelTests", "Fixtures", "torch")


def scalar_module():
    """The module numpy's pickle names for its scalar constructor."""
    blob = pickle.dumps(np.float64(0.5), protocol=2)
    return "numpy._core" if b"numpy._core.multiarray" in blob else "numpy.core"


def checkpoint():
    """A DINO-shaped training checkpoint: student, teacher, AdamW state after one step with
    numpy scalars in its param groups, the loss's center, epoch and args."""
    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    teacher = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    teacher.load_state_dict(student.state_dict())
    decayed = [p for n, p in student.named_parameters() if p.ndim > 1]
    plain = [p for n, p in student.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decayed}, {"params": plain, "weight_decay": 0.0}])
    student(torch.ones(4, 3)).square().sum().backward()
    opt.step()
    lr = np.linspace(0, 5e-4, 10)      # numpy schedules, as utils.cosine_scheduler makes them
    wd = np.linspace(0.04, 0.4, 10)
    for i, g in enumerate(opt.param_groups):
        g["lr"] = lr[3]
        if i == 0:
            g["weight_decay"] = wd[3]
    extra = {"f32": np.float32(-1.25), "i64": np.int64(-7), "u8": np.uint8(200), "flag": np.bool_(True)}
    return {"student": student.state_dict(), "teacher": teacher.state_dict(), "optimizer": opt.state_dict(),
            "epoch": 3, "dino_loss": OrderedDict(center=torch.full((1, 4), 0.25)), "extra": extra,
            "args": argparse.Namespace(arch="swin_mini", lr=0.002)}


def main():
    module = scalar_module()
    ck = checkpoint()
    name = "numpy_scalars-" + module
    torch.save(ck, os.path.join(OUT, name + ".pth"))
    tensors = []

    def walk(v, path):
        if isinstance(v, torch.Tensor):
            tensors.append({"name": path, "values": v.double().flatten().tolist()})
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else str(k))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}.{i}")
    walk(ck, "")
    def bits(x):    # a float64's bit pattern as hex: JSON readers may miss a double's last bit
        return struct.pack(">d", float(x)).hex()
    groups = [{"lr": bits(g["lr"]), "weight_decay": bits(g["weight_decay"])} for g in ck["optimizer"]["param_groups"]]
    extra = {k: v.item() for k, v in ck["extra"].items()}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump({"torch": torch.__version__, "numpy": np.__version__, "module": module,
                   "param_groups": groups, "extra": extra, "tensors": tensors}, f, indent=1)
    print(f"wrote {name}.pth with numpy {np.__version__} ({module}.multiarray.scalar)")


if __name__ == "__main__":
    main()
