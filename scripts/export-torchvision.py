#!/usr/bin/env python3
"""Writes a torchvision ResNet's weights as a safetensors file that `aspire train --init FILE` reads
(torchvision's tensor names; F32; num_batches_tracked left out).

    /usr/bin/python3 scripts/export-torchvision.py resnet50 --state-dict resnet50-0676ba61.pth --out resnet50.safetensors
    /usr/bin/python3 scripts/export-torchvision.py resnet18 --out r18.safetensors      # torchvision's own random init

--state-dict takes a PyTorch state_dict (.pth) of the same architecture, e.g. ImageNet weights
downloaded elsewhere; aspire itself never downloads anything. Needs Debian's python3-torch and
python3-torchvision (ASPIRE_WITH_TORCH=1 make deps); the safetensors Python package is not needed.
"""
import argparse
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("arch", choices=["resnet18", "resnet50"])
    ap.add_argument("--state-dict", help="a .pth state_dict to load first (default: torchvision's random init)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    net = getattr(torchvision.models, args.arch)()
    if args.state_dict:
        try:
            sd = torch.load(args.state_dict, map_location="cpu")
            net.load_state_dict(sd.get("state_dict", sd) if isinstance(sd, dict) else sd)
        except Exception as e:  # a wrong file gets one line, not a traceback
            sys.exit(f"export-torchvision: {args.state_dict}: {e}".splitlines()[0])
    tensors = {k: v.detach().float().numpy() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_safetensors(args.out, tensors, {"arch": args.arch, "source": args.state_dict or "torchvision init"})
    print(f"wrote {args.out}: {len(tensors)} tensors of {args.arch}")


if __name__ == "__main__":
    main()
