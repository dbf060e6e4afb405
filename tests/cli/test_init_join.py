"""``calpe init --join``: a genesis member, and a new agency that governance will admit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _calpe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        timeout=120,
    )


def test_a_new_agency_gets_a_config_and_is_told_how_to_be_admitted(tmp_path: Path) -> None:
    made = _calpe("init", "--dir", str(tmp_path / "net"))
    assert made.returncode == 0, made.stderr
    genesis = tmp_path / "net" / "genesis.json"
    keystore = tmp_path / "tax" / "keystore.json"
    passphrase = {"CALPE_PASSPHRASE": "a long enough passphrase"}
    new = _calpe(
        "keys",
        "new",
        "--agency",
        "gi.tax",
        "--name",
        "Tax Office",
        "--keystore",
        str(keystore),
        env=passphrase,
    )
    assert new.returncode == 0, new.stderr
    joined = _calpe(
        "init", "--dir", str(tmp_path / "tax"), "--join", str(genesis), "--keystore", str(keystore)
    )
    assert joined.returncode == 0, joined.stderr
    assert "not in the genesis" in joined.stdout and "add-agency" in joined.stdout
    config = (tmp_path / "tax" / "node.toml").read_text()
    assert 'agency_id = "gi.tax"' in config and str(genesis.resolve()) in config


def test_a_genesis_member_with_other_keys_is_refused(tmp_path: Path) -> None:
    assert _calpe("init", "--dir", str(tmp_path / "net")).returncode == 0
    impostor = tmp_path / "impostor.json"
    made = _calpe(
        "keys",
        "new",
        "--agency",
        "gi.health",
        "--name",
        "Health",
        "--keystore",
        str(impostor),
        env={"CALPE_PASSPHRASE": "a long enough passphrase"},
    )
    assert made.returncode == 0, made.stderr
    doc = json.loads(impostor.read_text())
    assert doc["agency_id"] == "gi.health"
    refused = _calpe(
        "init",
        "--dir",
        str(tmp_path / "other"),
        "--join",
        str(tmp_path / "net" / "genesis.json"),
        "--keystore",
        str(impostor),
    )
    assert refused.returncode != 0
    assert "genesis member with other keys" in refused.stderr + refused.stdout
