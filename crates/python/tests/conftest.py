"""Shared fixtures: the repository's sample data and graphs, and the graphrun binary."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "data"
GRAPHS = ROOT / "graphs"
T1 = DATA / "mni152_t1.nii.gz"
LABELS = DATA / "mni152_tissue_labels.nii.gz"
EPI = DATA / "someones_epi.nii.gz"


def graphrun_binary() -> str:
    """`graphrun`: $VOXFLOW_GRAPHRUN, else the workspace's release or debug build, else PATH.

    The equality tests need it; `.ci/run` builds it before pytest. Missing, the test fails
    (it never skips: a skipped equality check proves nothing)."""
    candidates = [os.environ.get("VOXFLOW_GRAPHRUN")]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    candidates += [str(target / "release" / "graphrun"), str(target / "debug" / "graphrun")]
    candidates.append(shutil.which("graphrun"))
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    pytest.fail("graphrun not found: build it (cargo build -p voxflow-graph-runner) or set VOXFLOW_GRAPHRUN")


@pytest.fixture(scope="session")
def graphrun() -> str:
    return graphrun_binary()


@pytest.fixture
def tutorial_inputs():
    return {"image": str(T1), "label": str(LABELS)}
