"""cnn_torch.py H5 [--epochs 3] [--threads 2] [--batch 64] [--lr 0.002]
PyTorch side of bench/cnn_torch.sh: the network of configs/fashion_cnn.ini
(conv32-bn-relu-pool, conv64-bn-relu-pool, fc128-relu, fc10; 3x3 convs,
padding 1) trained on the same HDF5 file (uint8 images / 255), AdamW with a
one-cycle schedule, evaluation on every test image after each epoch. Prints one
line per epoch: epoch, wall seconds since the start of training, train
images/s of that epoch, test accuracy; then which convolution kernel ran."""
import argparse, time, sys
import numpy as np, h5py, torch
import torch.nn as nn, torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("h5"); ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--threads", type=int, default=2); ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--lr", type=float, default=0.002); ap.add_argument("--wd", type=float, default=0.01)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.set_flush_denormal(True)
torch.manual_seed(a.seed)
with h5py.File(a.h5) as f:
    xtr = torch.from_numpy(f["train/images"][:].reshape(-1, 28, 28).astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.from_numpy(f["train/labels"][:].astype(np.int64))
    xte = torch.from_numpy(f["test/images"][:].reshape(-1, 28, 28).astype(np.float32) / 255).unsqueeze(1)
    yte = torch.from_numpy(f["test/labels"][:].astype(np.int64))
net = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
spe = len(xtr) // a.batch
opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=a.wd)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=spe * a.epochs)
print(f"# torch {torch.__version__} threads={torch.get_num_threads()} flush_denormal=1 "
      f"mkldnn available={torch.backends.mkldnn.is_available()} enabled={torch.backends.mkldnn.enabled} "
      f"params={sum(p.numel() for p in net.parameters())} steps/epoch={spe}", flush=True)

def evaluate():
    net.eval(); hit = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            hit += (net(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
    net.train(); return hit / len(xte)

t0 = time.perf_counter()
for ep in range(a.epochs):
    perm = torch.randperm(len(xtr)); te = time.perf_counter()
    for s in range(spe):
        idx = perm[s * a.batch:(s + 1) * a.batch]
        loss = F.cross_entropy(net(xtr[idx]), ytr[idx])
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
    ips = spe * a.batch / (time.perf_counter() - te)
    acc = evaluate()
    print(f"epoch={ep + 1} wall_s={time.perf_counter() - t0:.1f} images_per_s={ips:.0f} "
          f"test_acc={100 * acc:.2f} loss={loss.item():.4f}", flush=True)
# which kernel the convolutions ran: the profiler names the aten op
with torch.autograd.profiler.profile() as prof:
    F.cross_entropy(net(xtr[:a.batch]), ytr[:a.batch]).backward()
names = sorted({e.name for e in prof.function_events if "conv" in e.name})
print("# conv ops:", ", ".join(names))
