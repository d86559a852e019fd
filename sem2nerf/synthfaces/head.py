"""One procedural head as a signed-distance scene with CelebAMask-HQ labels and colours.

The scene lives in the *head frame* (centimetres; x to the image right of a frontal view, y up,
z towards a frontal camera). It is a hard union of layers: flesh (a smooth blend of skull, face,
jaw, cheeks, nose, ears, neck and torso, with eye sockets and an open mouth carved out), eyeballs,
lips, hair, and optional hat, glasses, earrings and necklace. Labels are functions of the 3D
surface point only, so every view of a head agrees on them.

Left and right follow CelebAMask-HQ as the project reads it: ``l_eye``, ``l_brow`` and ``l_ear``
are on the image's left in a frontal view, i.e. at x < 0, the person's right side.
"""

from __future__ import annotations

import math

import torch

from . import sdf
from .params import FaceParams

__all__ = ["SynthHead", "LABELS"]

# CelebAMask-HQ raw ids (sem2nerf.labels, scheme "celebamask_hq_raw").
LABELS = {
    "background": 0, "skin": 1, "nose": 2, "eye_g": 3, "l_eye": 4, "r_eye": 5, "l_brow": 6, "r_brow": 7,
    "l_ear": 8, "r_ear": 9, "mouth": 10, "u_lip": 11, "l_lip": 12, "hair": 13, "hat": 14, "ear_r": 15,
    "neck_l": 16, "neck": 17, "cloth": 18,
}
# Flesh sub-groups in the order of their labels.
_FLESH_GROUPS = ("skin", "nose", "l_ear", "r_ear", "neck", "cloth")
_FLESH_LABELS = torch.tensor([LABELS[g] for g in _FLESH_GROUPS])


class SynthHead:
    """Signed distance, labels and surface colours of one identity.

    Args:
        params: the identity.
        bounds: ``(lo, hi)`` corners of the box (head frame) that clips the scene.
    """

    def __init__(self, params: FaceParams, bounds: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.params = params
        self.lo, self.hi = bounds
        P = params
        v = sdf.vec
        hw, hh, hd = P.head_width, P.head_height, P.head_depth
        # --- skull and face (the skin group) ---
        self.cran = (v(0.0, 2.0, -1.0), v(7.4 * hw, 8.8 * hh, 9.6 * hd))
        self.face = (v(0.0, -2.5, 2.3), v(6.3 * hw, 7.0, 6.0))
        self.jaw = (v(0.0, -6.6 - 0.3 * P.chin_drop, 2.2), v(5.3 * P.jaw_width * hw, 4.6 + 0.3 * P.chin_drop, 5.3))
        self.chin = (v(0.0, -9.4 - P.chin_drop, 5.6), v(2.3, 1.8, 2.0))
        cheek_r = v(2.6, 2.4, 2.5) * P.cheek_fullness
        self.cheeks = ((v(-3.7, -2.8, 5.0), cheek_r), (v(3.7, -2.8, 5.0), cheek_r))
        self.ridge = (v(0.0, 2.3 + 0.5 * P.brow_height, 6.6), v(5.4 * hw, 1.6, 2.0))
        # --- derived positions: found on the skin surface so that features sit on any head shape ---
        ex = P.eye_spacing
        self.eye_y = 0.3
        z_eye = self._surface_z(ex, self.eye_y)
        self.eye_radius = 1.25
        self.eyes = tuple(v(s * ex, self.eye_y, z_eye - 0.08 - self.eye_radius) for s in (-1.0, 1.0))
        socket_r = v(1.45 * P.eye_width, 0.72 * P.eye_open, 1.15)
        self.sockets = tuple((v(s * ex, self.eye_y + 0.05, z_eye + 0.25), socket_r) for s in (-1.0, 1.0))
        self.z_eye = z_eye
        # nose
        nl, nw = P.nose_length, P.nose_width
        y_tip = -3.3 * nl
        z_root = self._surface_z(0.0, 0.8)
        z_tip = self._surface_z(0.0, y_tip) + 1.9 * P.nose_protrusion
        self.nose_bridge = (v(0.0, 0.8, z_root - 0.45), v(0.0, y_tip + 0.3, z_tip - 0.75), 0.62 * (0.8 + 0.2 * nw))
        self.nose_tip = (v(0.0, y_tip, z_tip - 0.85), 0.85 * (0.85 + 0.15 * nw))
        z_wing = self._surface_z(1.1 * nw, y_tip - 0.35)
        wing_r = v(0.75, 0.6, 0.75)
        self.nose_wings = tuple((v(s * 1.05 * nw, y_tip - 0.35, z_wing + 0.1), wing_r) for s in (-1.0, 1.0))
        # mouth and lips
        mw, lt, op = P.mouth_width, P.lip_thickness, P.mouth_open
        self.mouth_y = -6.1 - 0.3 * P.chin_drop
        z_m = self._surface_z(0.0, self.mouth_y)
        self.upper_lip = (v(0.0, self.mouth_y + 0.42 * lt + op / 2, z_m - 0.3), v(2.3 * mw, 0.5 * lt, 0.85))
        self.lower_lip = (v(0.0, self.mouth_y - 0.5 * lt - op / 2, z_m - 0.4), v(2.1 * mw, 0.62 * lt, 0.85))
        self.cavity = (v(0.0, self.mouth_y, z_m - 0.7), v(1.9 * mw, op / 2 + 0.45 * lt, 1.6)) if op > 0.05 else None
        # ears
        x_ear = self._surface_x(-0.3, -0.8)
        es = P.ear_size
        self.x_ear = x_ear
        self.ears = tuple((v(s * (x_ear + 0.15), -0.3, -0.8), v(0.75, 3.0 * es, 1.8 * es)) for s in (-1.0, 1.0))
        self.ear_bottom = -0.3 - 3.0 * es
        # neck and torso
        self.neck = (v(0.0, -4.0, -1.6), v(0.0, -22.0, -1.2), 4.7 * P.neck_width)
        self.shoulders = (v(-10.0, -20.5, -1.8), v(10.0, -20.5, -1.8), 5.0)
        self.chest = (v(0.0, -25.0, -0.8), v(14.0, 8.0, 7.0))
        self.neckline = (v(0.0, -15.3, 4.0), v(5.0, 2.2 * P.neckline_depth, 6.5))
        self._build_hair()
        self._build_accessories()

    # --- construction helpers ---------------------------------------------------------------

    def _skin(self, p: torch.Tensor) -> torch.Tensor:
        d = sdf.smin(sdf.ellipsoid(p, *self.cran), sdf.ellipsoid(p, *self.face), 2.5)
        d = sdf.smin(d, sdf.ellipsoid(p, *self.jaw), 2.0)
        d = sdf.smin(d, sdf.ellipsoid(p, *self.chin), 1.2)
        for cheek in self.cheeks:
            d = sdf.smin(d, sdf.ellipsoid(p, *cheek), 1.5)
        return sdf.smin(d, sdf.ellipsoid(p, *self.ridge), 1.5)

    def _surface_z(self, x: float, y: float) -> float:
        """The largest z where the skin group's surface crosses the line (x, y, .)."""
        z = torch.linspace(16.0, -4.0, 801)
        pts = torch.stack((torch.full_like(z, x), torch.full_like(z, y), z), dim=-1)
        return float(z[int(torch.nonzero(self._skin(pts) < 0)[0])])

    def _surface_x(self, y: float, z: float) -> float:
        """The largest x where the skin group's surface crosses the line (., y, z)."""
        x = torch.linspace(14.0, 0.0, 561)
        pts = torch.stack((x, torch.full_like(x, y), torch.full_like(x, z)), dim=-1)
        return float(x[int(torch.nonzero(self._skin(pts) < 0)[0])])

    def _build_hair(self) -> None:
        P = self.params
        vol = P.hair_volume
        cc, cr = self.cran
        self.shell = (cc + sdf.vec(0.0, 0.25 * vol, -0.15 * vol), cr + sdf.vec(0.85, 0.9, 0.9) * vol)
        y_front = (2.7 + 0.3 * P.hairline) if P.hair_style == "bangs" else (5.4 + P.hairline)
        y_back = -5.5
        # hair where y > y_back + slope * (z + 10): a plane tilted from the nape up to the hairline
        self.hair_slope = (y_front - y_back) / 18.0
        self.hair_y_back = y_back
        self.ear_clear = P.hair_style in ("short", "bangs")
        self.curtain = None
        if P.hair_style in ("bob", "long"):
            bottom = -10.0 if P.hair_style == "bob" else -19.0
            half_x = float(self.shell[1][0]) * 0.97 + 0.4
            self.curtain = (sdf.vec(-half_x + 2.0, bottom + 2.0, -10.5 * P.head_depth - 0.5 * vol + 2.0),
                            sdf.vec(half_x - 2.0, 1.0, 1.2 - 2.0))

    def _build_accessories(self) -> None:
        P = self.params
        v = sdf.vec
        ex = P.eye_spacing
        self.glasses_z = self.z_eye + 1.25
        if P.glasses_round:
            self.lens = (1.55, 1.45, 1.4)
        else:
            self.lens = (1.8, 1.25, 0.45)
        lens_w = self.lens[0]
        y_g = self.eye_y + 0.1
        x_side = self._surface_x(y_g + 0.3, self.glasses_z - 3.5)
        self.glasses_arms = []
        for s in (-1.0, 1.0):
            front = v(s * (ex + lens_w + 0.05), y_g + 0.4, self.glasses_z)
            mid = v(s * (max(x_side, ex + lens_w) + 0.35), y_g + 0.5, self.glasses_z - 3.5)
            back = v(s * (self.x_ear + 0.3), y_g + 0.7, -1.4)
            self.glasses_arms += [(front, mid), (mid, back)]
        self.glasses_bridge = (v(-(ex - lens_w) - 0.1, y_g + 0.45, self.glasses_z),
                               v(ex - lens_w + 0.1, y_g + 0.45, self.glasses_z))
        # hat: a dome over the skull cut above the forehead, with a brim in front
        cc, cr = self.shell
        self.hat_dome = (cc + v(0.0, 0.4, 0.0), cr + v(0.5, 0.5, 0.5))
        brim_z = float(cc[2] + cr[2]) + 0.5
        self.hat_brim = (v(0.0, 5.0, brim_z + 2.5), v(6.0, 0.25, 4.2))
        lobe_y = self.ear_bottom + 0.5
        xr = self.x_ear + 0.55
        if P.earring_hoops:
            self.earring_parts = [("hoop", v(s * xr, lobe_y - 0.8, -0.7)) for s in (-1.0, 1.0)]
        else:
            self.earring_parts = [("stud", v(s * xr, lobe_y, -0.6)) for s in (-1.0, 1.0)]
        neck_r = self.neck[2]
        self.necklace_centre = v(0.0, -14.0, -1.4)
        self.necklace_radius = neck_r + 0.55
        self.necklace_tilt = math.radians(28.0)
        c, s_ = math.cos(self.necklace_tilt), math.sin(self.necklace_tilt)
        front = self.necklace_radius + 0.25
        self.pendant = v(0.0, -14.0 - front * s_, -1.4 + front * c)

    # --- layers -------------------------------------------------------------------------------

    def _flesh_parts(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        skin = self._skin(p)
        nose = sdf.smin(sdf.capsule(p, *self.nose_bridge), sdf.sphere(p, *self.nose_tip), 0.8)
        for wing in self.nose_wings:
            nose = sdf.smin(nose, sdf.ellipsoid(p, *wing), 0.5)
        ears = [sdf.ellipsoid(p, *ear) for ear in self.ears]
        neck = sdf.capsule(p, *self.neck)
        torso = sdf.smin(sdf.capsule(p, *self.shoulders), sdf.ellipsoid(p, *self.chest), 3.0)
        return {"skin": skin, "nose": nose, "l_ear": ears[0], "r_ear": ears[1], "neck": neck, "cloth": torso}

    def _flesh(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        """Smoothly blend the flesh groups (before the sockets and the mouth are carved out)."""
        d = sdf.smin(parts["skin"], parts["nose"], 0.7)
        d = sdf.smin(d, parts["l_ear"], 0.5)
        d = sdf.smin(d, parts["r_ear"], 0.5)
        d = sdf.smin(d, parts["neck"], 2.5)
        d = sdf.smin(d, parts["cloth"], 3.0)
        return d

    def _hair(self, p: torch.Tensor) -> torch.Tensor:
        d = sdf.ellipsoid(p, *self.shell)
        norm = math.sqrt(1.0 + self.hair_slope**2)
        above = (p[:, 1] - self.hair_y_back - self.hair_slope * (p[:, 2] + 10.0)) / norm
        d = sdf.smax(d, -above, 0.4)
        if self.ear_clear:
            for ear_c, _ in self.ears:
                d = sdf.smax(d, -sdf.sphere(p, ear_c + sdf.vec(0.0, 0.8, 0.0), 2.8), 0.5)
        if self.curtain is not None:
            d = sdf.smin(d, sdf.box(p, *self.curtain) - 2.0, 1.0)
        return d

    def _hat(self, p: torch.Tensor) -> torch.Tensor:
        dome = sdf.ellipsoid(p, *self.hat_dome)
        dome = torch.maximum(dome, -(p[:, 1] - 4.3 + 0.12 * p[:, 2]))
        return torch.minimum(dome, sdf.ellipsoid(p, *self.hat_brim))

    def _glasses(self, p: torch.Tensor) -> torch.Tensor:
        half_w, half_h, corner = self.lens
        ex = self.params.eye_spacing
        d = None
        for s in (-1.0, 1.0):
            ring = sdf.rounded_rect_ring(p, sdf.vec(s * ex, self.eye_y + 0.1, self.glasses_z), half_w, half_h, corner, 0.17)
            d = ring if d is None else torch.minimum(d, ring)
        d = torch.minimum(d, sdf.capsule(p, *self.glasses_bridge, 0.14))
        for a, b in self.glasses_arms:
            d = torch.minimum(d, sdf.capsule(p, a, b, 0.14))
        return d

    def _earrings(self, p: torch.Tensor) -> torch.Tensor:
        parts = []
        for kind, centre in self.earring_parts:
            if kind == "hoop":
                parts.append(sdf.torus(p, centre, 0, 0.75, 0.12))
            else:
                parts.append(sdf.sphere(p, centre, 0.32))
        return torch.minimum(*parts)

    def _necklace(self, p: torch.Tensor) -> torch.Tensor:
        q = p - self.necklace_centre
        c, s = math.cos(self.necklace_tilt), math.sin(self.necklace_tilt)
        # rotate about x so that the ring dips at the front
        y = q[:, 1] * c + q[:, 2] * s
        z = -q[:, 1] * s + q[:, 2] * c
        ring = torch.linalg.vector_norm(torch.stack((q[:, 0], z), dim=-1), dim=-1) - self.necklace_radius
        chain = torch.sqrt(ring * ring + y * y) - 0.2
        return torch.minimum(chain, sdf.sphere(p, self.pendant, 0.55))

    def _layers(self, p: torch.Tensor, detail: dict | None = None) -> list[tuple[str, torch.Tensor]]:
        parts = self._flesh_parts(p)
        flesh_raw = self._flesh(parts)
        sockets = torch.minimum(*(sdf.ellipsoid(p, *s) for s in self.sockets))
        flesh = sdf.smax(flesh_raw, -sockets, 0.3)
        cavity = None
        if self.cavity is not None:
            cavity = sdf.ellipsoid(p, *self.cavity)
            flesh = sdf.smax(flesh, -cavity, 0.15)
        eyes = [sdf.sphere(p, e, self.eye_radius) for e in self.eyes]
        lips = (sdf.ellipsoid(p, *self.upper_lip), sdf.ellipsoid(p, *self.lower_lip))
        layers = [("flesh", flesh), ("eyes", torch.minimum(*eyes)), ("lips", torch.minimum(*lips))]
        P = self.params
        if P.hair_style != "bald":
            layers.append(("hair", self._hair(p)))
        if P.hat:
            layers.append(("hat", self._hat(p)))
        if P.glasses:
            layers.append(("eye_g", self._glasses(p)))
        if P.earrings:
            layers.append(("ear_r", self._earrings(p)))
        if P.necklace:
            layers.append(("neck_l", self._necklace(p)))
        if detail is not None:
            detail.update(parts=parts, flesh_raw=flesh_raw, sockets=sockets, cavity=cavity, lips=lips)
        return layers

    # --- public -------------------------------------------------------------------------------

    def distance(self, p: torch.Tensor) -> torch.Tensor:
        """Signed distance (cm) of points ``(N, 3)`` in the head frame to the clipped scene."""
        d = None
        for _, layer in self._layers(p):
            d = layer if d is None else torch.minimum(d, layer)
        return torch.maximum(d, sdf.box(p, self.lo, self.hi))

    def labels(self, p: torch.Tensor) -> torch.Tensor:
        """CelebAMask-HQ raw label ids ``(N,)`` (int64) of surface points ``(N, 3)``."""
        detail: dict = {}
        layers = self._layers(p, detail)
        names = [name for name, _ in layers]
        which = torch.stack([d for _, d in layers], dim=-1).argmin(dim=-1)
        x = p[:, 0]
        out = torch.zeros(p.shape[0], dtype=torch.int64)
        # flesh: the nearest flesh group, unless the point lies on a carved wall
        parts = detail["parts"]
        group = torch.stack([parts[g] for g in _FLESH_GROUPS], dim=-1).argmin(dim=-1)
        flesh = _FLESH_LABELS[group]
        in_brow = self._brow_mask(p)
        flesh = torch.where((flesh == LABELS["skin"]) & in_brow, torch.where(x < 0, LABELS["l_brow"], LABELS["r_brow"]), flesh)
        flesh = torch.where((flesh == LABELS["cloth"]) & (sdf.ellipsoid(p, *self.neckline) < 0), LABELS["neck"], flesh)
        flesh = torch.where(-detail["sockets"] > detail["flesh_raw"], LABELS["skin"], flesh)
        if detail["cavity"] is not None:
            flesh = torch.where(-detail["cavity"] > detail["flesh_raw"] - 0.05, LABELS["mouth"], flesh)
        upper, lower = detail["lips"]
        for index, name in enumerate(names):
            sel = which == index
            if name == "flesh":
                value = flesh
            elif name == "eyes":
                value = torch.where(x < 0, LABELS["l_eye"], LABELS["r_eye"])
            elif name == "lips":
                value = torch.where(upper < lower, LABELS["u_lip"], LABELS["l_lip"])
            else:
                value = torch.full_like(out, LABELS[name])
            out = torch.where(sel, value, out)
        return out

    def _brow_mask(self, p: torch.Tensor) -> torch.Tensor:
        """Brows are painted on the skin: a 3D band above each eye (arched, tilted, tapering outwards)."""
        P = self.params
        x, y, z = p.unbind(-1)
        half_len = 1.75 * P.eye_width
        mask = torch.zeros_like(x, dtype=torch.bool)
        for s in (-1.0, 1.0):
            centre_x = s * (P.eye_spacing + 0.15)
            t = s * (x - centre_x) / half_len  # -1 at the inner end, +1 at the outer end
            centre_y = self.eye_y + 1.75 + P.brow_height + P.brow_arch * (1.0 - t * t) * 0.5 + P.brow_tilt * t
            half_thick = 0.3 * P.brow_thickness * (1.1 - 0.35 * t)
            band = (t.abs() <= 1.0) & ((y - centre_y).abs() <= half_thick) & (z > self.z_eye - 3.0)
            mask |= band
        return mask

    def albedo(self, p: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Base colour ``(N, 3)`` and specular strength ``(N,)`` of labelled surface points."""
        P = self.params
        x, y, z = p.unbind(-1)
        n = p.shape[0]
        colour = torch.empty(n, 3)
        spec = torch.full((n,), 0.1)

        def paint(mask: torch.Tensor, rgb, strength: float) -> None:
            rgb = torch.as_tensor(rgb, dtype=torch.float32)
            colour[mask] = rgb.expand(int(mask.sum()), 3) if rgb.dim() == 1 else rgb[mask]
            spec[mask] = strength

        skin = torch.tensor(P.skin_rgb)
        skin_like = torch.isin(labels, torch.tensor([1, 2, 8, 9, 17]))
        blush = torch.exp(-((x.abs() - 3.6) ** 2 + (y + 2.6) ** 2) / 3.0)[:, None] * torch.tensor((0.06, -0.03, -0.03))
        paint(skin_like, (skin + blush).clamp(0, 1), 0.12)
        socket_wall = (labels == 1) & (torch.minimum(*(sdf.ellipsoid(p, *s) for s in self.sockets)) < 0.15)
        paint(socket_wall, skin * 0.45, 0.05)
        brow_noise = 0.5 + 0.5 * torch.sin(9.0 * x + 4.0 * y)
        brow = torch.tensor(P.brow_rgb) * (0.8 + 0.3 * brow_noise[:, None])
        paint((labels == 6) | (labels == 7), brow.clamp(0, 1), 0.05)
        eye = (labels == 4) | (labels == 5)
        paint(eye, self._eye_colour(p), 0.6)
        paint(labels == 11, torch.tensor(P.lip_rgb) * 0.92, 0.3)
        paint(labels == 12, torch.tensor(P.lip_rgb), 0.35)
        teeth = (y > self.mouth_y + 0.05) & (labels == 10)
        paint(labels == 10, (0.28, 0.07, 0.08), 0.1)
        paint(teeth, (0.88, 0.86, 0.8), 0.3)
        strands = 0.5 + 0.5 * torch.sin(5.0 * x + 2.3 * torch.sin(1.7 * z) + 0.7 * y)
        hair = torch.tensor(P.hair_rgb) * (0.8 + 0.35 * strands[:, None])
        paint(labels == 13, hair.clamp(0, 1), 0.2)
        paint(labels == 14, P.hat_rgb, 0.08)
        paint(labels == 3, P.glasses_rgb, 0.7)
        paint(labels == 15, P.earring_rgb, 0.9)
        paint(labels == 16, P.necklace_rgb, 0.9)
        cloth = torch.tensor(P.cloth_rgb).expand(n, 3)
        if P.cloth_stripes:
            stripe = (torch.sin(2.4 * y) > 0).float()[:, None]
            cloth = cloth * (1.0 - 0.45 * stripe) + 0.45 * stripe * torch.tensor((0.95, 0.95, 0.92))
        paint(labels == 18, cloth, 0.03)
        return colour, spec

    def _eye_colour(self, p: torch.Tensor) -> torch.Tensor:
        """Sclera, iris (with a darker limbal ring) and pupil, from the angle to each eye's gaze axis."""
        P = self.params
        centre = torch.where((p[:, :1] < 0), self.eyes[0], self.eyes[1])
        direction = torch.nn.functional.normalize(p - centre, dim=-1)
        cos = direction[:, 2]
        iris_cos = math.cos(0.55 * P.iris_size)
        t = ((cos - iris_cos) / (1.0 - iris_cos)).clamp(0.0, 1.0)[:, None]
        iris = torch.tensor(P.iris_rgb) * (0.55 + 0.6 * t)
        colour = torch.where(cos[:, None] > iris_cos, iris, torch.tensor((0.93, 0.91, 0.88)))
        colour = torch.where(cos[:, None] > math.cos(0.22 * P.iris_size), torch.tensor((0.03, 0.03, 0.03)), colour)
        return colour
