"""The traditional pipeline on this machine: Blender 4.5 (Bullet, Mantaflow, Cycles 32 spp).

    .venv/bin/python bench/baseline.py

Runs ../shared/bench/blender_baseline.py in a venv of its own (bench/.venv-blender,
made on first use with `pip install 'bpy==4.5.*'`). It simulates 120 frames but
renders three; their mean time is scaled to 120 frames. bench/shot.py calls
`measure()` to print our totals against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SCRIPT = ROOT.parent.parent / "shared" / "bench" / "blender_baseline.py"
VENV = ROOT / ".venv-blender"
FRAMES = 120


def _python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "bpy==4.5.*"], check=True)
    return python


def measure(out: Path = ROOT / "out" / "blender") -> dict:
    """{'sim_s', 'frame_s', 'total_s'}: seconds of the baseline's sims, per Cycles frame, and
    the whole 120-frame shot (sims + 120 frames)."""
    if not SCRIPT.exists():
        raise SystemExit(f"baseline script not found: {SCRIPT}")
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BASELINE_OUT": str(out)}
    subprocess.run([str(_python()), str(SCRIPT)], env=env, check=True, stdout=subprocess.DEVNULL)
    timings = json.loads((out / "timings.json").read_text())["timings_s"]
    frames = [v for k, v in timings.items() if k.startswith("e_cycles_frame")]
    sim = sum(v for k, v in timings.items() if k[:2] in ("a_", "b_", "c_", "d_"))
    frame = sum(frames) / len(frames)
    return {"sim_s": sim, "frame_s": frame, "total_s": sim + frame * FRAMES}


def main() -> None:
    m = measure()
    print(
        f"Blender 4.5 baseline: build+fracture+sims {m['sim_s']:.1f} s, Cycles {m['frame_s']:.2f} s/frame, "
        f"{FRAMES}-frame shot {m['total_s'] / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
