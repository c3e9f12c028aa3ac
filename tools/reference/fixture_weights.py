"""Deterministic tensors shared by the Python reference and the Swift tests.

Every fixture tensor that is an *input* (weights, images, upstream gradients) is generated from
its name by a counter-based hash, so Swift regenerates the same float32 values bit for bit and
the committed fixtures hold only outputs and gradients. Must match
Sources/ESTestSupport/FixtureTensors.swift.

    h    = FNV-1a-64(name)
    u_i  = splitmix64(h + i) >> 40          (24-bit integer)
    v_i  = (u_i / 2^23) - 1                 (exact float32 in [-1, 1))
    x_i  = float32(v_i * scale + offset)
"""
import numpy as np

M64 = (1 << 64) - 1


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def uniform_pm1(name: str, count: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = np.arange(count, dtype=np.uint64) + np.uint64(fnv1a64(name))
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64)
    return (u / float(1 << 23) - 1.0).astype(np.float32)


def tensor(name: str, shape, scale: float, offset: float = 0.0) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    v = uniform_pm1(name, n).astype(np.float32)
    return (v * np.float32(scale) + np.float32(offset)).astype(np.float32).reshape(shape)


def parameter(key: str, shape) -> np.ndarray:
    """Parameter values by kind (large enough that every term matters in the outputs)."""
    if key.endswith("last_layer.weight_g"):
        return tensor(key, shape, 0.2, 1.0)
    if key.endswith("relative_position_bias_table"):
        return tensor(key, shape, 0.5)
    if key.endswith("norm.weight") or key.endswith("norm1.weight") or key.endswith("norm2.weight"):
        return tensor(key, shape, 0.2, 1.0)
    if key.endswith(".bias"):
        return tensor(key, shape, 0.1)
    if key.endswith("patch_embed.proj.weight"):
        return tensor(key, shape, 0.2)
    return tensor(key, shape, 0.1)
