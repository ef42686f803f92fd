#!/usr/bin/env python3
"""Writes tests/fixtures/resnet/reference_net.safetensors: the reference network of DESIGN.md
(3x3 stem 3->16 + BN + ReLU; stages 16, 32, 64, 128 of two basic blocks; identity or 1x1 conv+BN
projection shortcuts; stride 2 in the first block of stages 2-4; global average pool; linear) run
by PyTorch on a batch of two 32x32 images, for tests/test_resnet_torch.c.

The architecture is the one of ../shared/anchors/pytorch_resnet_bench.py (ReferenceNet), written
out here with torchvision's module names (conv1, bn1, layerL.B.*, downsample, fc) so the script
stands alone. The weights are not stored: every parameter and buffer is filled from a small
integer hash of its name (fill() below), which tests/test_resnet_torch.c recomputes bit for bit in
float32, so the fixture holds only inputs and results (a few tens of kB).

Stored tensors (float32; images NHWC as the engine uses them):
  input (2, 32, 32, 3), targets (2),
  logits_eval (2, 2)       eval-mode forward (running statistics from fill()),
  logits_train (2, 2)      training-mode forward (batch statistics),
  loss (1)                 mean cross-entropy of logits_train,
  grad.<param>             gradients of loss for a few parameters,
  running_mean.<bn>, running_var.<bn>   after the training-mode forward (momentum 0.1).
Metadata "params": "name:d0xd1x...;..." for every state_dict entry but num_batches_tracked.

    /usr/bin/python3 scripts/make_fixture_resnet.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "resnet")
MASK = (1 << 64) - 1


def fnv1a(s):
    h = 1469598103934665603
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & MASK
    return h


def fill(name, n):
    """t[i] in [-0.5, 0.5): 24 bits of an xorshift64* stream seeded by the name's FNV-1a hash,
    divided by 2^24 (exact in float32)."""
    x = fnv1a(name) | 1
    out = np.empty(n, np.float32)
    for i in range(n):
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        v = (x * 2685821657736338717) & MASK
        out[i] = np.float32(v >> 40) / np.float32(16777216.0) - np.float32(0.5)
    return out


def param_values(name, shape):
    """The value of every tensor, as tests/test_resnet_torch.c computes it (float32 arithmetic)."""
    n = int(np.prod(shape))
    t = fill(name, n)
    if name.endswith("running_var"):
        v = np.float32(1.0) + t * np.float32(0.5)
    elif name.endswith("running_mean"):
        v = t * np.float32(0.25)
    elif len(shape) == 1 and name.endswith(".weight") and not name.startswith("fc"):
        v = np.float32(1.0) + t * np.float32(0.5)  # batch-norm gamma
    elif name.endswith(".bias"):
        v = t * np.float32(0.25)
    else:  # conv and linear weights: U(-b, b), b = sqrt(3 / fan_in) (unit-variance outputs)
        fan_in = int(np.prod(shape[1:]))
        scale = np.float32(2.0 * np.sqrt(3.0 / fan_in))
        v = t * scale
    return v.astype(np.float32).reshape(shape)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ReferenceNet(nn.Module):
    def __init__(self, widths=(16, 32, 64, 128), blocks=2, classes=2):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for i, c in enumerate(widths):
            layer = []
            for j in range(blocks):
                layer.append(BasicBlock(cin, c, 2 if (j == 0 and i > 0) else 1))
                cin = c
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layer))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def main():
    torch.set_num_threads(2)
    net = ReferenceNet()
    state = {}
    names = []
    for name, t in net.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        names.append("%s:%s" % (name, "x".join(str(d) for d in t.shape)))
        state[name] = torch.from_numpy(param_values(name, tuple(t.shape)))
    net.load_state_dict(state, strict=False)

    x_nhwc = (fill("input", 2 * 32 * 32 * 3) * np.float32(4.0)).reshape(2, 32, 32, 3)
    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous()
    targets = torch.tensor([0, 1])

    net.eval()
    with torch.no_grad():
        logits_eval = net(x)
    net.train()
    logits = net(x)
    loss = F.cross_entropy(logits, targets)
    loss.backward()

    grads = ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.1.bn2.bias",
             "layer2.0.downsample.0.weight", "layer3.1.bn1.weight", "layer4.1.bn2.weight", "fc.weight", "fc.bias"]
    params = dict(net.named_parameters())
    buffers = dict(net.named_buffers())
    tensors = [("input", x_nhwc), ("targets", targets.numpy().astype(np.float32)),
               ("logits_eval", logits_eval.numpy()), ("logits_train", logits.detach().numpy()),
               ("loss", loss.detach().numpy().reshape(1))]
    for g in grads:
        tensors.append(("grad." + g, params[g].grad.numpy()))
    for bn in ["bn1", "layer2.0.downsample.1", "layer4.1.bn2"]:
        tensors.append(("running_mean." + bn, buffers[bn + ".running_mean"].numpy()))
        tensors.append(("running_var." + bn, buffers[bn + ".running_var"].numpy()))
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "reference_net.safetensors")
    save_safetensors(path, tensors, {"params": ";".join(names), "torch": torch.__version__})
    print("wrote %s (%d bytes); loss %.6f" % (path, os.path.getsize(path), loss.item()))


if __name__ == "__main__":
    main()
