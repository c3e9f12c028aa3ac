"""EsViT's Swin backbone in plain PyTorch, written from docs/algorithm.md §1.

This is the oracle for the Swift engine: LayerNorm eps 1e-6, window clamping frozen at the
construction size, per-block zero padding after norm1 (padding tokens not masked), torch.roll
shifts with the shift mask computed for the actual padded size (the current, correct upstream
behaviour), PatchMerging at the end of each stage with sub-grids TL, BL, TR, BR, final
LayerNorm and mean pooling. State-dict keys follow the official naming.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def relative_position_index(ws: int) -> torch.Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return (rel[..., 0] + ws - 1) * (2 * ws - 1) + (rel[..., 1] + ws - 1)


def shift_mask(Hp: int, Wp: int, ws: int, s: int) -> torch.Tensor:
    img = torch.zeros(1, Hp, Wp, 1)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
        for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            img[:, hs, wsl, :] = cnt
            cnt += 1
    win = partition(img, ws).view(-1, ws * ws)
    m = win[:, None, :] - win[:, :, None]
    return m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)


def partition(x, ws):
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, C)


def merge_windows(w, ws, H, W):
    B = w.shape[0] // ((H // ws) * (W // ws))
    x = w.view(B, H // ws, W // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, -1)


class WindowAttention(nn.Module):
    def __init__(self, dim, ws, heads):
        super().__init__()
        self.ws, self.heads = ws, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(ws))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        Bw, N, C = x.shape
        qkv = self.qkv(x).reshape(Bw, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(N, N, -1).permute(2, 0, 1)[None]
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(Bw // nW, nW, self.heads, N, N) + mask[None, :, None]
            attn = attn.view(-1, self.heads, N, N)
        attn = attn.softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(Bw, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock(nn.Module):
    def __init__(self, dim, heads, ws, shift, mlp_ratio=4, eps=1e-6):
        super().__init__()
        self.ws, self.shift = ws, shift
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = WindowAttention(dim, ws, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x, H, W):
        B, L, C = x.shape
        ws, s = self.ws, self.shift
        h = self.norm1(x).view(B, H, W, C)
        pb, pr = (ws - H % ws) % ws, (ws - W % ws) % ws
        h = F.pad(h, (0, 0, 0, pr, 0, pb))
        Hp, Wp = H + pb, W + pr
        mask = None
        if s > 0:
            h = torch.roll(h, shifts=(-s, -s), dims=(1, 2))
            mask = shift_mask(Hp, Wp, ws, s)
        h = merge_windows(self.attn(partition(h, ws), mask), ws, Hp, Wp)
        if s > 0:
            h = torch.roll(h, shifts=(s, s), dims=(1, 2))
        h = h[:, :H, :W, :].reshape(B, L, C)
        x = x + h
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x, H, W):
        B, L, C = x.shape
        x = x.view(B, H, W, C)
        if H % 2 or W % 2:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.reshape(B, -1, 4 * C)))


class Stage(nn.Module):
    def __init__(self, blocks, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_chans, dim, eps=1e-6):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch, patch)
        self.norm = nn.LayerNorm(dim, eps=eps)


class Swin(nn.Module):
    def __init__(self, patch_size, in_chans, embed_dim, depths, num_heads, window_size, construct_size, mlp_ratio=4):
        super().__init__()
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.patch = patch_size
        stages, res = [], construct_size // patch_size
        for s, (d, nh) in enumerate(zip(depths, num_heads)):
            dim = embed_dim * 2 ** s
            clamp = res <= window_size
            ws = res if clamp else window_size
            blocks = [SwinBlock(dim, nh, ws, 0 if (clamp or b % 2 == 0) else window_size // 2, mlp_ratio) for b in range(d)]
            stages.append(Stage(blocks, PatchMerging(dim) if s < len(depths) - 1 else None))
            res = (res + 1) // 2
        self.layers = nn.ModuleList(stages)
        self.norm = nn.LayerNorm(embed_dim * 2 ** (len(depths) - 1), eps=1e-6)

    def forward(self, img, taps=None):
        x = self.patch_embed.proj(img)
        B, C, H, W = x.shape
        x = self.patch_embed.norm(x.flatten(2).transpose(1, 2))
        for s, stage in enumerate(self.layers):
            for blk in stage.blocks:
                x = blk(x, H, W)
            if stage.downsample is not None:
                x = stage.downsample(x, H, W)
                H, W = (H + 1) // 2, (W + 1) // 2
            if taps is not None:
                taps[f"stage{s}"] = x
        tokens = self.norm(x)
        return tokens, tokens.mean(1)
