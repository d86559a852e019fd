"""Camera paths of sem2nerf.trajectories not covered with the model (the official ones: tests/test_model.py)."""

import math
from itertools import pairwise

import pytest

from sem2nerf import Pose, sweep_trajectory


def test_sweep_turns_to_each_side_and_back_at_a_fixed_pitch_and_fov():
    sweep = sweep_trajectory(12, pitch=-7.5, fov=17.0)
    assert len(sweep) == 12 and all(isinstance(p, Pose) for p in sweep)
    yaws = [p.yaw for p in sweep]
    assert yaws[0] == 0.0 and yaws[6] == pytest.approx(0.0, abs=1e-9), "frontal at the start and half way"
    assert yaws[3] == pytest.approx(35.0) and max(yaws) == pytest.approx(35.0), "+35 degrees a quarter of the way"
    assert yaws[9] == pytest.approx(-35.0) and min(yaws) == pytest.approx(-35.0), "-35 degrees at three quarters"
    assert all(a < b for a, b in pairwise(yaws[:4])) and all(a > b for a, b in pairwise(yaws[3:10]))
    assert yaws == pytest.approx([35.0 * math.sin(2 * math.pi * i / 12) for i in range(12)])
    assert {p.pitch for p in sweep} == {-7.5} and {p.fov for p in sweep} == {17.0}
    assert sum(yaws) == pytest.approx(0.0, abs=1e-9), "as far to one side as to the other"


def test_sweep_amplitude_and_defaults():
    assert [round(p.yaw, 6) for p in sweep_trajectory(4, amplitude=10.0)] == [0.0, 10.0, 0.0, -10.0]
    default = sweep_trajectory(8)
    assert {p.pitch for p in default} == {0.0} and {p.fov for p in default} == {12.0}
    assert len(sweep_trajectory()) == 36
