#!/usr/bin/python3
"""PyTorch reference for bench/model_bench.c: the identical model, batch,
thread count and random data, one training step = forward + backward +
global-norm clip + AdamW (weight decay on 2-D tensors only). Run with
Debian's /usr/bin/python3 (python3-torch 1.13, CPU).

  torch_ref.py mlp [--hidden 256,128] [--batch 64] [--threads 2] [--steps 300]
  torch_ref.py gpt [--vocab 96 --ctx 64 --d_model 64 --n_layer 2 --n_head 4] [--batch 16] ...
  torch_ref.py cnn [--batch 64] ...   (configs/fashion_cnn.ini's network, bench/cnn_torch.py's layers)
Prints one line of key=value pairs, like model_bench.
"""
import argparse
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def stream(start, n):
    """Elements start+1 .. start+n of model_bench.c's data stream:
    splitmix64(i) >> 33 (numpy uint64 arithmetic wraps like C)."""
    with np.errstate(over="ignore"):
        z = (np.arange(start + 1, start + n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(33)).astype(np.int64)


class MLP(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x, y):
        for i, l in enumerate(self.fc):
            x = l(x)
            if i < len(self.fc) - 1:
                x = F.relu(x)
        return F.cross_entropy(x, y)


class CNN(nn.Module):
    """conv32-bn-relu-pool, conv64-bn-relu-pool, fc128-relu, head: 28x28x1 in, 10 classes"""
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(7 * 7 * 64, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x, y):
        return F.cross_entropy(self.net(x), y)


class Block(nn.Module):
    def __init__(self, C, H, T):
        super().__init__()
        self.H = H
        self.ln1 = nn.LayerNorm(C)
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C)
        self.mproj = nn.Linear(4 * C, C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q = q.view(B, T, self.H, C // self.H).transpose(1, 2)
        k = k.view(B, T, self.H, C // self.H).transpose(1, 2)
        v = v.view(B, T, self.H, C // self.H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.H))
        att = att.masked_fill(~self.mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        x = x + self.mproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return x


class GPT(nn.Module):
    def __init__(self, V, T, C, L, H):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList(Block(C, H, T) for _ in range(L))
        self.lnf = nn.LayerNorm(C)
        self.head = nn.Linear(C, V, bias=False)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if n.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
        # GPT-2's tied head, as ztrain's GPT: the output projection is wte
        self.head.weight = self.wte.weight
        self.register_buffer("pos", torch.arange(T))

    def forward(self, idx, y):
        x = self.wte(idx) + self.wpe(self.pos[: idx.shape[1]])
        for b in self.h:
            x = b(x)
        logits = self.head(self.lnf(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["mlp", "gpt", "cnn"])
    ap.add_argument("--batch", type=int, default=-1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=-1, help="timed steps (default: mlp 300, gpt 40)")
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--vocab", type=int, default=96)
    ap.add_argument("--ctx", type=int, default=64)
    ap.add_argument("--d_model", type=int, default=64)
    ap.add_argument("--n_layer", type=int, default=2)
    ap.add_argument("--n_head", type=int, default=4)
    ap.add_argument("--flush-denormal", type=int, default=0,
                    help="1: torch.set_flush_denormal(True) (FTZ/DAZ, as ztrain's CPU ops)")
    ap.add_argument("--autocast", default="", choices=["", "bf16"],
                    help="bf16: forward under torch.autocast('cpu', dtype=torch.bfloat16)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.flush_denormal:
        torch.set_flush_denormal(True)
    torch.manual_seed(1234)
    NB = 64   # batches, cycled (as model_bench.c)
    pos = 0
    if a.model == "cnn":
        B = a.batch if a.batch > 0 else 64
        model = CNN()
        data = []
        for _ in range(NB):   # NCHW here, NHWC in ztrain: one channel, the same bytes
            x = torch.from_numpy((stream(pos, B * 784) % 256).astype(np.float32).reshape(B, 1, 28, 28) / np.float32(255.0))
            pos += B * 784
            y = torch.from_numpy(stream(pos, B) % 10)
            pos += B
            data.append((x, y))
        tokens_per_row = 1
        # GEMM FLOPs per image, x3 for forward + backward (as ztrain's flops_per_row)
        flops_per_row = 6.0 * (28 * 28 * 9 * 1 * 32 + 14 * 14 * 9 * 32 * 64 + 7 * 7 * 64 * 128 + 128 * 10)
    elif a.model == "mlp":
        B = a.batch if a.batch > 0 else 64
        dims = [784] + [int(h) for h in a.hidden.split(",") if h] + [10]
        model = MLP(dims)
        data = []
        for _ in range(NB):
            x = torch.from_numpy((stream(pos, B * 784) % 256).astype(np.float32).reshape(B, 784) / np.float32(255.0))
            pos += B * 784
            y = torch.from_numpy(stream(pos, B) % 10)
            pos += B
            data.append((x, y))
        tokens_per_row = 1
        flops_per_row = 6.0 * sum(i * o for i, o in zip(dims[:-1], dims[1:]))
    else:
        B = a.batch if a.batch > 0 else 16
        V, T, C, L, H = a.vocab, a.ctx, a.d_model, a.n_layer, a.n_head
        model = GPT(V, T, C, L, H)
        data = []
        for _ in range(NB):
            xy = stream(pos, 2 * B * T) % V
            pos += 2 * B * T
            data.append((torch.from_numpy(xy[0::2].copy()).view(B, T), torch.from_numpy(xy[1::2].copy()).view(B, T)))
        tokens_per_row = T
        flops_per_row = 6.0 * (L * 12 * C * C + V * C) * T + 12.0 * L * T * T * C
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    nparams = sum(p.numel() for p in model.parameters())

    nsteps = a.steps if a.steps > 0 else (300 if a.model == "mlp" else 40)   # cnn: 40
    warm, steps, it = 3, 0, 0
    loss_first = loss_last = 0.0
    t0 = t_end = 0.0
    while True:
        if it == warm:
            t0 = time.perf_counter()
            c0 = time.process_time()
        x, y = data[it % NB]
        opt.zero_grad(set_to_none=False)
        if a.autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(x, y)
        else:
            loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        l = loss.item()
        if it == 0:
            loss_first = l
        loss_last = l
        if it >= warm:
            steps += 1
            t_end = time.perf_counter()
            c_end = time.process_time()
            if steps >= nsteps:
                break
        it += 1
    dt = (t_end - t0) / steps
    rows = B / dt
    print(f"model={a.model} params={nparams} batch={B} threads={torch.get_num_threads()} steps={steps} "
          f"ms_per_step={dt * 1e3:.3f} samples_per_s={rows:.1f} tokens_per_s={rows * tokens_per_row:.1f} "
          f"gflops={flops_per_row * rows * 1e-9:.2f} loss_first={loss_first:.4f} loss_last={loss_last:.4f} "
          f"torch={torch.__version__} flush_denormal={a.flush_denormal} autocast={a.autocast or 'off'} "
          f"cpu_ms_per_step={(c_end - c0) / steps * 1e3:.3f}")


if __name__ == "__main__":
    main()
