#!/usr/bin/env bash
# Run every benchmark at full size and keep its JSON in bench/results/ (with the machine's
# description), so a regression shows from one run to the next, then draws the figures
# (bench/results/plots/*.png) from the saved JSON. Takes tens of minutes.
# Usage: scripts/run_benchmarks.sh [NAME ...]    (NAME as in `calpe bench --help`)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --dev
mkdir -p bench/results
.venv/bin/python - > bench/results/machine.json <<'PY'
import json, os, platform, subprocess
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if "model name" in l), "?")
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
print(json.dumps({
    "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(int(mem) / 2**20, 1),
    "python": platform.python_version(), "kernel": platform.release(),
    "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip(),
}, indent=2))
PY
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    names=(ingest proofs verify checkpoint checkpoint_latency network resources snapshot_join tui)
fi
for name in "${names[@]}"; do
    echo "==> bench $name"
    .venv/bin/calpe bench "$name" --json > "bench/results/$name.json"
done
echo "==> figures"
.venv/bin/calpe bench plot --from bench/results --out bench/results/plots
