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
    given = os.environ.get("VOXFLOW_GRAPHRUN")
    if given:
        return given
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    builds = [target / "release" / "graphrun", target / "debug" / "graphrun"]
    builds = [b for b in builds if b.is_file() and os.access(b, os.X_OK)]
    if builds:  # the newest build: an old one may predate the package being tested
        return str(max(builds, key=lambda b: b.stat().st_mtime))
    if shutil.which("graphrun"):
        return shutil.which("graphrun")
    pytest.fail("graphrun not found: build it (cargo build -p voxflow-graph-runner) or set VOXFLOW_GRAPHRUN")


@pytest.fixture(scope="session")
def graphrun() -> str:
    return graphrun_binary()


@pytest.fixture
def tutorial_inputs():
    return {"image": str(T1), "label": str(LABELS)}
