"""Test helpers shared between test files (e.g. ``exercise_checks``) are imported from this folder
(pytest runs with ``--import-mode=importlib``, which does not put it on ``sys.path``)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
