"""Shared test fixtures: paths, small thread counts."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
