"""Models bundled with the package, loadable offline by name.

``Sem2NeRF.from_pretrained("synthfaces")`` (or the folder :data:`DEFAULT_MODEL_DIR`) loads the default
model: a small Sem2NeRF trained by this project's ``train_accelerate.py`` on SynthFaces (see the model
card ``synthfaces/README.md`` for the commands, data, hardware and evaluation). It is what
``python app.py`` and ``python -m sem2nerf render`` use when no ``--model`` is given. Any other model
folder or Hugging Face repo id loads the same way.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_MODEL", "DEFAULT_MODEL_DIR", "PRESETS", "resolve_preset"]

_HERE = Path(__file__).resolve().parent

PRESETS: dict[str, Path] = {
    "synthfaces": _HERE / "synthfaces",
}
DEFAULT_MODEL = "synthfaces"
DEFAULT_MODEL_DIR: Path = PRESETS[DEFAULT_MODEL]


def resolve_preset(name: str) -> Path | None:
    """The bundled folder of preset ``name`` (``None`` when ``name`` is not a preset)."""
    return PRESETS.get(name)
