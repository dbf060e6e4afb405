"""Fuzz every untrusted-input decoder with mutated valid encodings; print JSON.

``python -m bench.fuzz_decoders --inputs 1000000`` feeds that many inputs, round-robin over the
decoders listed in ``tests/faults/decoders.py``, each a structure-aware mutation of a real
encoding. Exit status 1 (with the input) if any decoder raises an exception it does not
document. ``--smoke`` runs 20,000 inputs. The CI test with hypothesis is
``tests/faults/test_decoder_fuzz.py``; this is the long run behind the figure in
``docs/reliability.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

from tests.faults.decoders import UnexpectedError, run_one, targets
from tests.faults.mutate import mutate_input


def fuzz(inputs: int, seed: int) -> dict[str, Any]:
    """Run ``inputs`` mutated inputs; the per-decoder counts and the first unexpected error."""
    rng = random.Random(seed)
    chosen = targets()
    per_target = {t.name: {"inputs": 0, "decoded": 0} for t in chosen}
    failure: str | None = None
    started = time.perf_counter()
    done = 0
    for done in range(1, inputs + 1):
        target = chosen[done % len(chosen)]
        value = mutate_input(rng.choice(target.seeds), rng, json_doc=target.json)
        counts = per_target[target.name]
        counts["inputs"] += 1
        try:
            counts["decoded"] += run_one(target, value)
        except UnexpectedError as exc:
            failure = str(exc)
            break
    elapsed = time.perf_counter() - started
    return {
        "benchmark": "fuzz_decoders",
        "seed": seed,
        "inputs": done,
        "seconds": round(elapsed, 2),
        "inputs_per_s": round(done / elapsed) if elapsed else None,
        "decoders": per_target,
        "unexpected": failure,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--smoke", action="store_true", help="20,000 inputs")
    parser.add_argument("--json", action="store_true", help="accepted for calpe bench")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    result = fuzz(20_000 if args.smoke else args.inputs, seed)
    print(json.dumps(result, indent=2))
    return 1 if result["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
