"""sem2nerf: one semantic mask of a face (or a cat) -> a 3D-consistent neural radiance field.

Quick start::

    from sem2nerf import Sem2NeRF
    model = Sem2NeRF.from_pretrained("synthfaces")  # the bundled default; or a folder, or "org/name" on the Hub
    scene = model.encode("mask.png")
    image = model.render(scene, yaw=20, pitch=-5)
"""

from .domains import Domain, get_domain, list_domains, read_pose_file, write_pose_file
from .errors import MaskError, ModelLoadError, Sem2NeRFError
from .labels import LabelScheme, get_label_scheme, list_label_schemes, register_label_scheme
from .masks import LabelMask, encoder_input, load_mask
from .model import DEFAULT_STYLE_LAYERS, TEXTURE_STYLE_LAYERS, Scene, Sem2NeRF
from .pretrained import DEFAULT_MODEL, DEFAULT_MODEL_DIR
from .renderer import RenderOptions
from .trajectories import Pose, front_trajectory, orbit_trajectory, preview_poses, sweep_trajectory

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_DIR",
    "DEFAULT_STYLE_LAYERS",
    "TEXTURE_STYLE_LAYERS",
    "Domain",
    "LabelMask",
    "LabelScheme",
    "MaskError",
    "ModelLoadError",
    "Pose",
    "RenderOptions",
    "Scene",
    "Sem2NeRF",
    "Sem2NeRFError",
    "encoder_input",
    "front_trajectory",
    "get_domain",
    "get_label_scheme",
    "list_domains",
    "list_label_schemes",
    "load_mask",
    "orbit_trajectory",
    "preview_poses",
    "read_pose_file",
    "register_label_scheme",
    "sweep_trajectory",
    "write_pose_file",
]
