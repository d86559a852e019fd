"""SynthFaces: procedural 3D heads with CelebAMask-HQ labels, rendered from many known viewpoints.

Each identity is an analytic signed-distance scene (smoothly blended ellipsoids, capsules and tori)
whose surface points carry CelebAMask-HQ raw label ids, so images, masks and depth maps of any view
come from the same geometry and agree pixel for pixel and across views. Data sets are written in
the CelebAMask-HQ layout (see :mod:`sem2nerf.synthfaces.dataset` and ``docs/synthfaces.md``).
"""

from .dataset import (
    DEPTH_UNIT,
    GENERATOR_VERSION,
    add_synth_arguments,
    domain_center_crop,
    draw_identity,
    generate_dataset,
    read_depth,
    render_identity,
    run_synth,
    sample_light,
    sample_poses,
)
from .head import LABELS, SynthHead
from .params import (
    COLOUR_FIELDS,
    EDITS,
    HAIR_STYLES,
    HIDDEN_FIELDS,
    FaceParams,
    apply_edit,
    mean_hidden_params,
    sample_face_params,
)
from .render import Light, full_fov, render_views

__all__ = [
    "COLOUR_FIELDS",
    "DEPTH_UNIT",
    "EDITS",
    "GENERATOR_VERSION",
    "HAIR_STYLES",
    "HIDDEN_FIELDS",
    "LABELS",
    "FaceParams",
    "Light",
    "SynthHead",
    "add_synth_arguments",
    "apply_edit",
    "domain_center_crop",
    "draw_identity",
    "full_fov",
    "generate_dataset",
    "mean_hidden_params",
    "read_depth",
    "render_identity",
    "render_views",
    "run_synth",
    "sample_face_params",
    "sample_light",
    "sample_poses",
]
