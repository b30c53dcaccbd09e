"""Write the PyTorch golden fixtures into lstm_core/fixtures/ (needs torch).

    python tests/make_torch_fixtures.py

The fixtures are committed, so the test that reads them needs no torch.
"""
from pathlib import Path

import numpy as np

from torch_reference import FIXTURE_CASES, fixture_name, reference

if __name__ == "__main__":
    out_dir = Path(__file__).resolve().parents[1] / "lstm_core" / "fixtures"
    out_dir.mkdir(exist_ok=True)
    for case in FIXTURE_CASES:
        path = out_dir / fixture_name(*case)
        np.savez(path, **reference(*case))
        print(f"wrote {path}")
