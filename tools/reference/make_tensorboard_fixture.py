"""Writes the TensorBoard event-file fixture: what the real SummaryWriter (torch.utils.tensorboard,
which writes through the tensorboard package's EventFileWriter) puts in a file for a fixed list of
scalars at fixed wall times. esvit's own writer (Sources/ESTrain/EventFile.swift) must produce the
same bytes, and its reader must read them back (Tests/ESTrainTests/TensorBoardTests.swift).

Pinned: torch 2.15.0, tensorboard 2.21.0, protobuf 7.36.2 (tools/reference/requirements.txt).
  python tools/reference/make_tensorboard_fixture.py
writes Tests/ESTrainTests/Fixtures/tensorboard/events.bin (the event file) and events.json (the
header's wall time, then each scalar's tag, step, wall time and float32 bits in hex).
"""
import glob
import json
import os
import struct
import tempfile
import time

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ESTrainTests", "Fixtures", "tensorboard")
HEADER_TIME = 1765000000.25   # the file-version event's wall time (the writer reads time.time())

# tag, step, wall time, value: steps from 0 (proto3 leaves it out) to past 2^32, values of every
# kind a log holds (negative, tiny, huge, exact zero, a value float32 rounds).
SCALARS = [
    ("eval/knn_top1", 0, 1765000001.5, 77.1),
    ("loss/total", 1, 1765000002.0, 7.942505852156749),
    ("schedule/lr", 1, 1765000002.0, 0.0),
    ("schedule/lr", 10, 1765000003.125, 3.237410055589862e-05),
    ("teacher/kl_view", 10, 1765000003.125, -1.5e-30),
    ("speed/img_per_s", 4201, 1765000900.75, 391.5273870409233),
    ("train/huge", 5_000_000_000, 1765000999.0, 3.0e38),
    ("loss/región ü", 7, 1765000004.0, -2.5),
]


def main():
    import torch
    import tensorboard
    from torch.utils.tensorboard import SummaryWriter
    real_time = time.time
    with tempfile.TemporaryDirectory() as tmp:
        time.time = lambda: HEADER_TIME
        try:
            w = SummaryWriter(log_dir=tmp)
        finally:
            time.time = real_time
        for tag, step, wall, value in SCALARS:
            w.add_scalar(tag, value, global_step=step, walltime=wall)
        w.close()
        (path,) = glob.glob(os.path.join(tmp, "events.out.tfevents.*"))
        data = open(path, "rb").read()
    os.makedirs(OUT, exist_ok=True)
    open(os.path.join(OUT, "events.bin"), "wb").write(data)
    manifest = {
        "versions": {"torch": torch.__version__, "tensorboard": tensorboard.__version__},
        "header_wall_time": HEADER_TIME,
        "scalars": [{"tag": t, "step": s, "wall_time": wt, "float32_bits": struct.pack(">f", v).hex()} for t, s, wt, v in SCALARS],
    }
    json.dump(manifest, open(os.path.join(OUT, "events.json"), "w"), indent=1, ensure_ascii=False)
    print(f"wrote {len(data)} bytes, {len(SCALARS)} scalars to {OUT}")


if __name__ == "__main__":
    main()
