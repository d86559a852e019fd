"""Output folders of the data-set writers (``synth``, ``drawn``): refuse what they must not touch, in one place."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["prepare_output_folder"]


def prepare_output_folder(out_dir: str | os.PathLike, overwrite: bool, marker: str, what: str) -> Path:
    """Create ``out_dir`` (or accept it empty) and check that it can be written; return it.

    A non-empty folder is accepted only with ``overwrite`` and only when it holds an earlier set of the same kind
    (its ``marker`` file), so that nothing else a user keeps there is replaced. Raises ``ValueError`` with a
    one-line message naming ``what`` the folder is for.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} is a file")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ValueError(f"output folder {out} is not empty (overwrite=True / --overwrite replaces a {what})")
        if not (out / marker).is_file():
            raise ValueError(f"output folder {out} is not empty and holds no {what}; not touching it")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"cannot write to output folder {out}: {exc.strerror or exc}") from None
    return out
