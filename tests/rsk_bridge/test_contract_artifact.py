"""The committed contract artifact is what the pinned compiler makes of the committed source."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from plugins.rsk_bridge.chain import ARTIFACT_PATH, load_artifact

ROOT = Path(__file__).resolve().parents[2]


def test_artifact_is_cancun_optimised_and_from_the_pinned_solc() -> None:
    artifact = load_artifact()
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["solc"]
    assert artifact["compiler"]["version"].startswith(pinned + "+commit.")
    assert artifact["settings"]["evmVersion"] == "cancun"
    assert artifact["settings"]["optimizer"]["enabled"] is True
    source = (ARTIFACT_PATH.parent / "CalpeCheckpoints.sol").read_text()
    assert f"pragma solidity {pinned};" in source


@pytest.mark.slow
@pytest.mark.integration
def test_recompiling_the_source_reproduces_the_committed_artifact(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: cannot recompile the contract")
    if not (ROOT / "node_modules" / "solc").is_dir():
        pytest.fail("npm packages missing: run `npm ci` at the repository root")
    out = tmp_path / "artifact.json"
    subprocess.run(
        ["node", str(ROOT / "scripts" / "compile_contract.js"), "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    fresh = json.loads(out.read_text())
    committed = load_artifact()
    for field in ("abi", "bytecode", "deployedBytecode", "compiler", "settings"):
        assert fresh[field] == committed[field], (
            f"{field} differs: run `node scripts/compile_contract.js` and commit the artifact"
        )
