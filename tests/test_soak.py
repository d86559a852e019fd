"""The soak benchmark (benchmarks/app_soak.py) runs a tiny round against the served app and finds no unexpected errors."""

from __future__ import annotations

import re
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _soak():
    # imported by name (not from a file spec) so that the server's child process can import it too
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    import app_soak

    return app_soak


def test_a_tiny_soak_round_reports_no_unexpected_errors(capsys):
    # a tiny random model in a child process; 2 clients x 3 requests, the 2nd of each bad input (which must fail)
    status = _soak().main(["--clients", "2", "--renders", "3", "--rounds", "2", "--bad-every", "2", "--size", "64"])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\s+\d+\s+\d+\s", line)]
    assert len(rows) == 2, out
    for row in rows:
        requests, errors, expected = map(int, row[1:4])
        assert (requests, errors, expected) == (6, 0, 2), out  # every bad request failed, every good one worked
        assert float(row[6]) > 0  # the server's RSS, MB
        assert int(row[7]) >= 2  # sessions Gradio holds
    assert re.search(r"RSS: round 1 \d+ MB, round 2 \d+ MB", out), out
    assert "unexpected errors: 0" in out
