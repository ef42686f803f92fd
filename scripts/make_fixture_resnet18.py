#!/usr/bin/env python3
"""Writes tests/fixtures/resnet18/torchvision_resnet18.safetensors for tests/test_resnet18_torch.c:
torchvision's own ResNet-18 (torchvision.models.resnet18, Debian's python3-torchvision 0.14 with
python3-torch 1.13; full widths 64..512, 11.7 M parameters) with 10 classes, run by PyTorch on a
batch of four 32x32 images.

The 47 MB of weights are not stored. Every parameter and buffer is a deterministic function of its
name, which the C test recomputes bit for bit in float32, so the fixture holds only the inputs,
the outputs and the list of tensor names and shapes (a few kB):

  u(name, i) = (splitmix64(fnv1a(name) + i) >> 40) / 2^24 - 0.5         exact in float32
  conv and linear weights  u * sqrt(24 / fan_in)   (Kaiming-uniform scale, computed in float32)
  fc.bias, batch-norm bias and running_mean           u / 4
  batch-norm weight                                   1 + u / 4
  batch-norm running_var                              1 + u / 2

Stored tensors (float32): input (4, 32, 32, 3) NHWC as the engine takes images, logits_eval (4, 10)
(eval mode: running statistics), logits_train (4, 10) (training mode: batch statistics),
features_eval (4, 512) (the pooled penultimate features). Metadata "params":
"name:d0xd1x...;..." for every state_dict entry except num_batches_tracked, in state_dict order.

    /usr/bin/python3 scripts/make_fixture_resnet18.py
"""
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "resnet18")
M64 = np.uint64((1 << 64) - 1)


def fnv1a(s):
    h = 1469598103934665603
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & ((1 << 64) - 1)
    return h


def uniform(name, n):
    """u(name, i) for i < n as float32, vectorised splitmix64 (numpy uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        z = np.uint64(fnv1a(name)) + np.arange(n, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24) - np.float32(0.5)


def value(name, shape):
    n = int(np.prod(shape)) if shape else 1
    u = uniform(name, n)
    if len(shape) >= 2:  # conv (O, I, KH, KW) or linear (O, I)
        fan_in = int(np.prod(shape[1:]))
        v = u * np.sqrt(np.float32(24.0) / np.float32(fan_in)).astype(np.float32)
    elif name.endswith("running_var"):
        v = np.float32(1.0) + u * np.float32(0.5)
    elif name.endswith("running_mean") or name.endswith("bias"):
        v = u * np.float32(0.25)
    else:  # batch-norm weight
        v = np.float32(1.0) + u * np.float32(0.25)
    return v.astype(np.float32).reshape(shape)


def main():
    torch.set_num_threads(2)
    net = torchvision.models.resnet18(num_classes=10)
    sd = net.state_dict()
    names = []
    with torch.no_grad():
        for name, t in sd.items():
            if name.endswith("num_batches_tracked"):
                continue
            t.copy_(torch.from_numpy(value(name, tuple(t.shape))))
            names.append(f"{name}:{'x'.join(str(d) for d in t.shape)}")
    x = value("input", (4, 32, 32, 3)) * np.float32(4.0)  # NHWC in [-2, 2)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    feats = {}
    net.avgpool.register_forward_hook(lambda m, i, o: feats.__setitem__("f", o.flatten(1)))
    net.eval()
    with torch.no_grad():
        logits_eval = net(xt).numpy()
        features_eval = feats["f"].numpy()
    net.train()
    with torch.no_grad():
        logits_train = net(xt).numpy()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "torchvision_resnet18.safetensors")
    save_safetensors(path, {"input": x, "logits_eval": logits_eval, "logits_train": logits_train,
                            "features_eval": features_eval},
                     {"params": ";".join(names), "torch": torch.__version__,
                      "torchvision": torchvision.__version__, "model": "torchvision.models.resnet18(num_classes=10)"})
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(names)} tensors named)")
    print("logits_eval[0]:", logits_eval[0])


if __name__ == "__main__":
    main()
