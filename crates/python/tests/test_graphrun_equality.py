"""`Graph.run` returns what `graphrun` writes, voxel for voxel, affine for affine, draw for draw."""

import json
import subprocess

import numpy as np
import pytest

import voxflow
from conftest import GRAPHS


@pytest.mark.parametrize("graph_name, outputs", [("tutorial.json", 2), ("augment_fused.json", 1)])
def test_run_equals_graphrun(tmp_path, graphrun, graph_name, outputs):
    graph_path = GRAPHS / graph_name
    g = voxflow.Graph(graph_path)
    dataset = g.dataset
    assert dataset is not None, "the example graphs carry their dataset"
    out_dir = tmp_path / "out"
    cli = subprocess.run(
        [graphrun, "run", str(graph_path), "-o", str(out_dir), "--outputs", str(outputs)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    lines = [json.loads(l) for l in (out_dir / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == outputs
    save_paths = {n["name"]: n for n in g.nodes if n["op"] == "save"}
    for line in lines:
        out, draws = g.run_with_draws(line["inputs"], case=line["case"], output=line["output"])
        assert draws == line["draws"]
        assert set(out) == set(save_paths)
        for name, volume in out.items():
            rel = (
                save_paths[name]["save_path"]
                .replace("{case}", line["case"])
                .replace("{output}", str(line["output"]))
                .replace("{node}", name)
            )
            assert rel in line["files"]
            on_disk = voxflow.read(out_dir / rel, kind=volume.kind)
            assert on_disk.dtype == volume.dtype
            np.testing.assert_array_equal(on_disk.array, volume.array)
            # NIfTI-1 stores the affine as float32; in memory it stays float64.
            np.testing.assert_allclose(
                on_disk.affine, volume.affine.astype(np.float32).astype(np.float64), rtol=0, atol=1e-9
            )
