"""Benchmark: `stockade scan` of the whole corpus against parsing the same files with PyYAML.

Run: .venv/bin/python bench/bench_scan.py [CORPUS]   (default ../shared/corpus)

Measures, in one run:
  * baseline: PyYAML CSafeLoader parsing every .yaml/.yml file of the corpus (one core);
  * stockade: `stockade scan CORPUS --no-kustomize -o json` as a separate process (wall, peak RSS),
    which reads the same files (kustomize rendering is left out so both sides read the same bytes);
  * one small file: `stockade scan <one file>` wall time, best of 5, beside `python -c "import yaml"`.
"""

from __future__ import annotations

import contextlib
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STOCKADE = [sys.executable, "-m", "stockade.cli.main"]


def baseline_parse(corpus: Path) -> tuple[float, int, int]:
    files = sorted(p for p in corpus.rglob("*") if p.suffix in (".yaml", ".yml"))
    start = time.perf_counter()
    docs = 0
    for f in files:
        with contextlib.suppress(yaml.YAMLError):
            docs += sum(1 for _ in yaml.load_all(f.read_bytes(), Loader=yaml.CSafeLoader))
    return time.perf_counter() - start, len(files), docs


def timed(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, exit code and peak RSS (MiB) of the command and its worker processes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return wall, proc.returncode, peak // 1024


def main() -> None:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "corpus"
    scan_wall, code, peak = timed([*STOCKADE, "scan", str(corpus), "--no-kustomize", "-o", "json"])
    base, files, docs = baseline_parse(corpus)
    print(f"corpus: {files} files, {docs} documents")
    print(f"baseline  PyYAML CSafeLoader parse only (1 core): {base:6.2f} s")
    print(f"stockade  scan, all checks (exit {code}):           {scan_wall:6.2f} s  peak RSS {peak} MiB")
    one = ROOT / "examples" / "ml-platform" / "40-gateway.yaml"
    small = min(timed([*STOCKADE, "scan", str(one)])[0] for _ in range(5))
    imp = min(timed([sys.executable, "-c", "import yaml"])[0] for _ in range(5))
    print(f"one small file: stockade scan {small:.3f} s  (python -c 'import yaml': {imp:.3f} s)")


if __name__ == "__main__":
    main()
