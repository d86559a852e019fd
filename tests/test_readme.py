"""README's first Python example runs verbatim on the bundled model, from the repository root's layout."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_python_example_runs_verbatim(tmp_path, monkeypatch):
    """The first ```python block of README's "Python API" section runs as written (its paths are the repository's;
    placeholders only in comments) and leaves what it says: images, frames, a saved model folder."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # run from a copy of the root's layout: writes stay in tmp
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    assert namespace["image"].size == (128, 128) and len(namespace["frames"]) == 36
    assert namespace["depth"].shape == (128, 128)
    assert {"config.json", "model.safetensors"} <= {p.name for p in (tmp_path / "my-model").iterdir()}
