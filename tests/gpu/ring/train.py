"""train.py - a PyTorch MLP training step in a loop (REFERENCE.md §4's workload):
3 layers, 4096 wide, batch 1024, SGD, one synchronize per step. The loop is
tests/gpu/frameworks/mlp.py's.

Prints 'RESULT train name=<n> steps=<k> seconds=<s> rate=<steps/s> p50_ms p99_ms …'.
usage: python3 train.py NAME SECONDS [START_AT_UNIX | go:PATH]
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frameworks"))
import mlp  # noqa: E402

mlp.main(layers=3, tag="train")
