#!/usr/bin/env python3
"""Overhead of the Python call over the Rust run itself, for a 128^3 sample.

The tutorial graph runs on a 128^3 image and label given as voxflow.Volume objects (so no file
is read); `Graph.last_run_seconds` is the time spent in Rust with the GIL released, the rest of
the call is the binding (converting inputs, wrapping results).

    python benchmarks/python/call_overhead.py [--runs 30]
"""
import argparse
import statistics
import time
from pathlib import Path

import voxflow

REPO = Path(__file__).resolve().parents[2]

parser = argparse.ArgumentParser()
parser.add_argument("--runs", type=int, default=30)
args = parser.parse_args()

# The MNI T1 and its labels resized to 128^3 (by voxflow itself), kept in memory.
resize = voxflow.Graph({"nodes": [
    {"name": "image", "op": "load"},
    {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}},
    {"name": "r", "op": "resize", "params": {"shape": [128, 128, 128], "interpolation": "linear"},
     "inputs": {"volume": ["image", "label"]}},
]})
small = resize.run({"image": REPO / "data/mni152_t1.nii.gz", "label": REPO / "data/mni152_tissue_labels.nii.gz"},
                   nodes=["r.image", "r.label"])
inputs = {"image": small["r.image"], "label": small["r.label"]}
graph = voxflow.Graph(REPO / "graphs/tutorial.json")
graph.run(inputs, case="mni152", output=0)  # warm-up (converts the inputs once)
total, rust = [], []
for output in range(args.runs):
    start = time.perf_counter()
    graph.run(inputs, case="mni152", output=output)
    total.append(time.perf_counter() - start)
    rust.append(graph.last_run_seconds)
overhead = [(t - r) / r for t, r in zip(total, rust)]
print(f"128^3 tutorial sample, {args.runs} runs, 1 thread: call {statistics.median(total) * 1e3:.1f} ms, "
      f"Rust {statistics.median(rust) * 1e3:.1f} ms, overhead {statistics.median(overhead) * 100:.2f}% (median)")
