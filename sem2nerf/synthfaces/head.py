"""One procedural head as a signed-distance scene with CelebAMask-HQ labels and colours.

The scene lives in the *head frame* (centimetres; x to the image right of a frontal view, y up,
z towards a frontal camera). It is a hard union of parts: the flesh (a smooth blend of skull, face,
jaw, cheeks, nose, ears, neck and torso, with eye sockets and an open mouth carved out), eyeballs,
lips, hair, and optional hat, glasses, earrings and necklace. Labels are functions of the 3D
surface point only, so every view of a head agrees on them.

Left and right follow CelebAMask-HQ as the project reads it: ``l_eye``, ``l_brow`` and ``l_ear``
are on the image's left in a frontal view, i.e. at x < 0, the person's right side.

Every part carries a bounding sphere: :meth:`SynthHead.distance` evaluates a part only at points
where it can change the result, which keeps sphere tracing fast without changing the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import sdf
from .params import FaceParams

__all__ = ["LABELS", "SynthHead"]

# CelebAMask-HQ raw ids (sem2nerf.labels, scheme "celebamask_hq_raw").
LABELS = {
    "background": 0, "skin": 1, "nose": 2, "eye_g": 3, "l_eye": 4, "r_eye": 5, "l_brow": 6, "r_brow": 7,
    "l_ear": 8, "r_ear": 9, "mouth": 10, "u_lip": 11, "l_lip": 12, "hair": 13, "hat": 14, "ear_r": 15,
    "neck_l": 16, "neck": 17, "cloth": 18,
}
_FLESH_GROUPS = ("skin", "nose", "l_ear", "r_ear", "neck", "cloth")  # labels of the blended flesh parts
_FLESH_IDS = torch.tensor([LABELS[g] for g in _FLESH_GROUPS])
_SKIN_LIKE = torch.tensor([LABELS[g] for g in ("skin", "nose", "l_ear", "r_ear", "neck")])


@dataclass(frozen=True)
class _Part:
    """A named piece of the scene with a bounding sphere and a blend radius (0 = hard union)."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    centre: torch.Tensor
    radius: float
    blend: float = 0.0


def _enclose(*spheres: tuple[torch.Tensor, float], pad: float = 0.0) -> tuple[torch.Tensor, float]:
    """A sphere around spheres ``(centre (3, 1), radius)`` (not minimal, always enclosing)."""
    centre = torch.stack([c for c, _ in spheres]).mean(0)
    radius = max(float(torch.linalg.vector_norm(c - centre)) + r for c, r in spheres)
    return centre, radius + pad


def _ell_bound(centre: torch.Tensor, radii: torch.Tensor) -> tuple[torch.Tensor, float]:
    return centre, float(radii.max())


def _cap_bound(a: torch.Tensor, b: torch.Tensor, r: float) -> tuple[torch.Tensor, float]:
    return (a + b) * 0.5, float(torch.linalg.vector_norm(b - a)) * 0.5 + r


def _bent(p: torch.Tensor, bend: float) -> torch.Tensor:
    """Bend space so that shapes curve back with the face: z grows with x squared."""
    return torch.stack((p[0], p[1], p[2] + bend * p[0] * p[0]))


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
        # skull and face: the skin group, always evaluated
        self.cran = (v(0.0, 2.0, -1.0), v(7.4 * hw, 8.8 * hh, 9.6 * hd))
        self.face = (v(0.0, -2.5, 2.3), v(6.7 * hw, 7.0, 6.0))
        self.jaw = (v(0.0, -6.6 - 0.3 * P.chin_drop, 2.2), v(5.6 * P.jaw_width * hw, 4.6 + 0.3 * P.chin_drop, 5.3))
        self.chin = (v(0.0, -9.4 - P.chin_drop, 5.6), v(2.4, 1.8, 2.0))
        cheek_r = v(2.3, 2.1, 2.2) * P.cheek_fullness
        self.cheeks = ((v(-3.6, -2.6, 5.2), cheek_r), (v(3.6, -2.6, 5.2), cheek_r))
        self.ridge = (v(0.0, 2.3 + 0.5 * P.brow_height, 6.6), v(5.4 * hw, 1.6, 2.0))
        # features are placed on the skin surface, so they sit right on any head shape
        ex = P.eye_spacing
        self.eye_y = 0.3
        self.z_eye = self._surface_z(ex, self.eye_y)
        self.eye_radius = 1.25
        self.eye_centres = tuple(v(s * ex, self.eye_y, self.z_eye - 0.1 - self.eye_radius) for s in (-1.0, 1.0))
        socket_r = v(1.45 * P.eye_width, 0.6 * P.eye_open, 1.15)
        self.sockets = tuple((v(s * ex, self.eye_y + 0.05, self.z_eye + 0.2), socket_r) for s in (-1.0, 1.0))
        nl, nw = P.nose_length, P.nose_width
        y_tip = -3.3 * nl
        z_root = self._surface_z(0.0, 0.8)
        z_tip = self._surface_z(0.0, y_tip) + 1.9 * P.nose_protrusion
        self.nose_bridge = (v(0.0, 0.8, z_root - 0.45), v(0.0, y_tip + 0.3, z_tip - 0.75), 0.62 * (0.8 + 0.2 * nw))
        self.nose_tip = (v(0.0, y_tip, z_tip - 0.85), 0.85 * (0.85 + 0.15 * nw))
        z_wing = self._surface_z(1.1 * nw, y_tip - 0.35)
        self.nose_wings = tuple((v(s * 1.05 * nw, y_tip - 0.35, z_wing + 0.1), v(0.75, 0.6, 0.75)) for s in (-1.0, 1.0))
        mw, lt, op = P.mouth_width, P.lip_thickness, P.mouth_open
        self.mouth_y = -6.1 - 0.3 * P.chin_drop
        z_m = self._surface_z(0.0, self.mouth_y)
        self.lip_bend = 0.09
        self.upper_lip = (v(0.0, self.mouth_y + 0.42 * lt + op / 2, z_m - 0.45), v(2.3 * mw, 0.5 * lt, 0.85))
        self.lower_lip = (v(0.0, self.mouth_y - 0.5 * lt - op / 2, z_m - 0.55), v(2.1 * mw, 0.62 * lt, 0.85))
        self.cavity = (v(0.0, self.mouth_y, z_m - 0.7), v(1.9 * mw, op / 2 + 0.45 * lt, 1.6)) if op > 0.05 else None
        self.x_ear = self._surface_x(-0.3, -0.8)
        es = P.ear_size
        self.ears = tuple((v(s * (self.x_ear + 0.15), -0.3, -0.8), v(0.75, 3.0 * es, 1.8 * es)) for s in (-1.0, 1.0))
        self.ear_bottom = -0.3 - 3.0 * es
        self.neck = (v(0.0, -4.0, -1.6), v(0.0, -22.0, -1.2), 4.7 * P.neck_width)
        self.shoulders = (v(-10.0, -20.5, -1.8), v(10.0, -20.5, -1.8), 5.0)
        self.chest = (v(0.0, -25.0, -0.8), v(14.0, 8.0, 7.0))
        self.neckline = (v(0.0, -15.3, 4.0), v(5.0, 2.2 * P.neckline_depth, 6.5))
        self._build_hair()
        self._build_accessories()
        self._build_parts()

    # --- construction -------------------------------------------------------------------------

    def _skin(self, p: torch.Tensor) -> torch.Tensor:
        d = sdf.smin(sdf.ellipsoid(p, *self.cran), sdf.ellipsoid(p, *self.face), 2.5)
        d = sdf.smin(d, sdf.ellipsoid(p, *self.jaw), 2.0)
        d = sdf.smin(d, sdf.ellipsoid(p, *self.chin), 1.2)
        for cheek in self.cheeks:
            d = sdf.smin(d, sdf.ellipsoid(p, *cheek), 1.5)
        return sdf.smin(d, sdf.ellipsoid(p, *self.ridge), 1.5)

    def _surface_z(self, x: float, y: float) -> float:
        """The largest z where the skin surface crosses the line (x, y, .)."""
        z = torch.linspace(16.0, -4.0, 801)
        pts = torch.stack((torch.full_like(z, x), torch.full_like(z, y), z))
        return float(z[int(torch.nonzero(self._skin(pts) < 0)[0])])

    def _surface_x(self, y: float, z: float) -> float:
        """The largest x where the skin surface crosses the line (., y, z)."""
        x = torch.linspace(14.0, 0.0, 561)
        pts = torch.stack((x, torch.full_like(x, y), torch.full_like(x, z)))
        return float(x[int(torch.nonzero(self._skin(pts) < 0)[0])])

    def _build_hair(self) -> None:
        P = self.params
        vol = P.hair_volume
        cc, cr = self.cran
        self.shell = (cc + sdf.vec(0.0, 0.25 * vol, -0.15 * vol), cr + sdf.vec(0.85, 0.9, 0.9) * vol)
        y_front = (2.7 + 0.3 * P.hairline) if P.hair_style == "bangs" else (5.4 + P.hairline)
        # hair lies above a plane that rises from the nape (y = -5.5 at z = -10) to the hairline (z = 8)
        self.hair_y_back = -5.5
        self.hair_slope = (y_front - self.hair_y_back) / 18.0
        self.ear_clear = P.hair_style in ("short", "bangs")
        self.curtain = None
        if P.hair_style in ("bob", "long"):
            bottom = -10.0 if P.hair_style == "bob" else -17.0
            half_x = float(self.shell[1][0]) * 0.97 + 0.4
            self.curtain = (sdf.vec(-half_x + 2.0, bottom + 2.0, -10.5 * P.head_depth - 0.5 * vol + 2.0),
                            sdf.vec(half_x - 2.0, -1.0, -0.8))

    def _build_accessories(self) -> None:
        P = self.params
        v = sdf.vec
        ex = P.eye_spacing
        self.glasses_z = self.z_eye + 1.25
        self.lens = (1.55, 1.45, 1.4) if P.glasses_round else (1.8, 1.25, 0.45)
        lens_w = self.lens[0]
        y_g = self.eye_y + 0.1
        self.glasses_y = y_g
        x_side = self._surface_x(y_g + 0.3, self.glasses_z - 3.5)
        self.glasses_arms = []
        for s in (-1.0, 1.0):
            front = v(s * (ex + lens_w + 0.05), y_g + 0.4, self.glasses_z)
            mid = v(s * (max(x_side, ex + lens_w) + 0.35), y_g + 0.5, self.glasses_z - 3.5)
            back = v(s * (self.x_ear + 0.3), y_g + 0.7, -1.4)
            self.glasses_arms += [(front, mid), (mid, back)]
        self.glasses_bridge = (v(-(ex - lens_w) - 0.1, y_g + 0.45, self.glasses_z),
                               v(ex - lens_w + 0.1, y_g + 0.45, self.glasses_z))
        cc, cr = self.shell
        self.hat_dome = (cc + v(0.0, 0.4, 0.0), cr + v(0.5, 0.5, 0.5))
        self.hat_brim = (v(0.0, 5.0, float(cc[2] + cr[2]) + 3.0), v(6.0, 0.25, 4.2))
        lobe_y = self.ear_bottom + 0.5
        xr = self.x_ear + 0.55
        if P.earring_hoops:
            self.earrings = [v(s * xr, lobe_y - 0.8, -0.7) for s in (-1.0, 1.0)]
        else:
            self.earrings = [v(s * xr, lobe_y, -0.6) for s in (-1.0, 1.0)]
        self.necklace_centre = v(0.0, -14.0, -1.4)
        self.necklace_radius = self.neck[2] + 0.55
        self.necklace_tilt = math.radians(28.0)
        front = self.necklace_radius + 0.25
        self.pendant = v(0.0, -14.0 - front * math.sin(self.necklace_tilt), -1.4 + front * math.cos(self.necklace_tilt))

    def _build_parts(self) -> None:
        """The culling table: flesh blends, carved holes and hard-union overlays, each with a bound."""
        P = self.params
        nose_bound = _enclose(_cap_bound(*self.nose_bridge), self.nose_tip,
                              *(_ell_bound(*w) for w in self.nose_wings), pad=0.3)
        torso_bound = _enclose(_cap_bound(*self.shoulders), _ell_bound(*self.chest), pad=0.8)
        self.blends = [
            _Part("nose", self._nose, *nose_bound, blend=0.7),
            _Part("l_ear", lambda p: sdf.ellipsoid(p, *self.ears[0]), *_ell_bound(*self.ears[0]), blend=0.5),
            _Part("r_ear", lambda p: sdf.ellipsoid(p, *self.ears[1]), *_ell_bound(*self.ears[1]), blend=0.5),
            _Part("neck", lambda p: sdf.capsule(p, *self.neck), *_cap_bound(*self.neck), blend=2.5),
            _Part("cloth", self._torso, *torso_bound, blend=3.0),
        ]
        self.carves = [_Part("socket", lambda p, s=s: sdf.ellipsoid(p, *s), *_ell_bound(*s), blend=0.3)
                       for s in self.sockets]
        if self.cavity is not None:
            centre, radius = _ell_bound(*self.cavity)
            radius += self.lip_bend * float(self.cavity[1][0]) ** 2  # the bend moves the shape back by up to this
            self.carves.append(_Part("mouth", lambda p: sdf.ellipsoid(_bent(p, self.lip_bend), *self.cavity),
                                     centre, radius, blend=0.15))
        lip_pad = self.lip_bend * 2.3 * P.mouth_width * 2.3 * P.mouth_width
        overlays = [
            _Part("l_eye", lambda p: sdf.sphere(p, self.eye_centres[0], self.eye_radius), self.eye_centres[0],
                  self.eye_radius),
            _Part("r_eye", lambda p: sdf.sphere(p, self.eye_centres[1], self.eye_radius), self.eye_centres[1],
                  self.eye_radius),
            _Part("u_lip", lambda p: sdf.ellipsoid(_bent(p, self.lip_bend), *self.upper_lip),
                  *_enclose(_ell_bound(*self.upper_lip), pad=lip_pad)),
            _Part("l_lip", lambda p: sdf.ellipsoid(_bent(p, self.lip_bend), *self.lower_lip),
                  *_enclose(_ell_bound(*self.lower_lip), pad=lip_pad)),
        ]
        if P.hair_style != "bald":
            spheres = [_ell_bound(*self.shell)]
            if self.curtain is not None:
                lo, hi = self.curtain
                spheres.append(((lo + hi) * 0.5, float(torch.linalg.vector_norm(hi - lo)) * 0.5 + 2.0))
            overlays.append(_Part("hair", self._hair, *_enclose(*spheres, pad=0.5)))
        if P.hat:
            overlays.append(_Part("hat", self._hat, *_enclose(_ell_bound(*self.hat_dome), _ell_bound(*self.hat_brim))))
        if P.glasses:
            frame_w = self.params.eye_spacing + self.lens[0] + 0.3
            overlays.append(_Part("eye_g", self._glasses_frame, sdf.vec(0.0, self.glasses_y, self.glasses_z), frame_w))
            for a, b in self.glasses_arms:
                overlays.append(_Part("eye_g", lambda p, a=a, b=b: sdf.capsule(p, a, b, 0.14), *_cap_bound(a, b, 0.14)))
        if P.earrings:
            for centre in self.earrings:
                if P.earring_hoops:
                    overlays.append(_Part("ear_r", lambda p, c=centre: sdf.torus(p, c, 0, 0.75, 0.12), centre, 0.9))
                else:
                    overlays.append(_Part("ear_r", lambda p, c=centre: sdf.sphere(p, c, 0.32), centre, 0.32))
        if P.necklace:
            overlays.append(_Part("neck_l", self._necklace, self.necklace_centre, self.necklace_radius + 1.6))
        self.overlays = overlays

    def detail_spheres(self) -> list[tuple[torch.Tensor, float]]:
        """Spheres (head-frame centre, radius in cm) around the small parts a mask shows: each eye with its socket
        and the lower brow, and the mouth with its lips. ``sample_points(..., focus=...)`` concentrates points in them."""
        P = self.params
        eyes = [(v + sdf.vec(0.0, 0.6, 0.0), 1.45 * P.eye_width + 0.9) for v, _ in self.sockets]
        lips_z = float(self.upper_lip[0][2])
        mouth = (sdf.vec(0.0, self.mouth_y, lips_z), 2.4 * P.mouth_width + 0.5 * P.mouth_open + 0.6)
        return [*eyes, mouth]

    # --- shapes -------------------------------------------------------------------------------

    def _nose(self, p: torch.Tensor) -> torch.Tensor:
        d = sdf.smin(sdf.capsule(p, *self.nose_bridge), sdf.sphere(p, *self.nose_tip), 0.8)
        for wing in self.nose_wings:
            d = sdf.smin(d, sdf.ellipsoid(p, *wing), 0.5)
        return d

    def _torso(self, p: torch.Tensor) -> torch.Tensor:
        return sdf.smin(sdf.capsule(p, *self.shoulders), sdf.ellipsoid(p, *self.chest), 3.0)

    def _hair(self, p: torch.Tensor) -> torch.Tensor:
        d = sdf.ellipsoid(p, *self.shell)
        norm = math.sqrt(1.0 + self.hair_slope**2)
        above = (p[1] - self.hair_y_back - self.hair_slope * (p[2] + 10.0)) / norm
        d = sdf.smax(d, -above, 0.4)
        if self.ear_clear:
            for ear_c, _ in self.ears:
                d = sdf.smax(d, -sdf.sphere(p, ear_c + sdf.vec(0.0, 0.8, 0.0), 2.8), 0.5)
        if self.curtain is not None:
            d = sdf.smin(d, sdf.box(p, *self.curtain) - 2.0, 1.0)
        return d

    def _hat(self, p: torch.Tensor) -> torch.Tensor:
        dome = sdf.ellipsoid(p, *self.hat_dome)
        dome = torch.maximum(dome, -(p[1] - 4.3 + 0.12 * p[2]))
        return torch.minimum(dome, sdf.ellipsoid(p, *self.hat_brim))

    def _glasses_frame(self, p: torch.Tensor) -> torch.Tensor:
        half_w, half_h, corner = self.lens
        ex = self.params.eye_spacing
        rings = [sdf.rounded_rect_ring(p, sdf.vec(s * ex, self.glasses_y, self.glasses_z), half_w, half_h, corner, 0.17)
                 for s in (-1.0, 1.0)]
        return torch.minimum(torch.minimum(*rings), sdf.capsule(p, *self.glasses_bridge, 0.14))

    def _necklace(self, p: torch.Tensor) -> torch.Tensor:
        q = p - self.necklace_centre
        c, s = math.cos(self.necklace_tilt), math.sin(self.necklace_tilt)
        y = q[1] * c + q[2] * s  # rotated about x so that the ring dips at the front
        z = -q[1] * s + q[2] * c
        ring = torch.sqrt(q[0] * q[0] + z * z) - self.necklace_radius
        chain = torch.sqrt(ring * ring + y * y) - 0.2
        return torch.minimum(chain, sdf.sphere(p, self.pendant, 0.55))

    # --- evaluation ---------------------------------------------------------------------------

    @staticmethod
    def _near(p: torch.Tensor, part: _Part, limit: torch.Tensor) -> torch.Tensor:
        """Indices of the points whose distance to the part's bounding sphere is below ``limit``."""
        bound = sdf.norm(p - part.centre) - part.radius
        return torch.nonzero(bound < limit).squeeze(1)

    def _flesh(self, p: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        """Flesh distance. Culled by bounding spheres, unless ``record`` asks for every part's own distance."""
        d = self._skin(p)
        if record is not None:
            record["skin"] = d
            for part in self.blends:
                record[part.name] = part.fn(p)
                d = sdf.smin(d, record[part.name], part.blend)
            record["flesh_raw"] = d
            for part in self.carves:
                value = part.fn(p)
                record[part.name] = torch.minimum(record[part.name], value) if part.name in record else value
                d = sdf.smax(d, -value, part.blend)
            return d
        for part in self.blends:  # a smooth union changes d only where the part is nearer than d + blend
            idx = self._near(p, part, d + part.blend)
            if idx.numel():
                d[idx] = sdf.smin(d[idx], part.fn(p[:, idx]), part.blend)
        for part in self.carves:  # a carve changes d only where the hole is nearer than blend - d
            idx = self._near(p, part, part.blend - d)
            if idx.numel():
                d[idx] = sdf.smax(d[idx], -part.fn(p[:, idx]), part.blend)
        return d

    def distance(self, p: torch.Tensor) -> torch.Tensor:
        """Signed distance (cm) of head-frame points ``(3, N)`` to the clipped scene."""
        d = self._flesh(p)
        for part in self.overlays:
            idx = self._near(p, part, d)
            if idx.numel():
                d[idx] = torch.minimum(d[idx], part.fn(p[:, idx]))
        return torch.maximum(d, sdf.box(p, self.lo, self.hi))

    def labels(self, p: torch.Tensor) -> torch.Tensor:
        """CelebAMask-HQ raw label ids ``(N,)`` (int64) of surface points ``(3, N)``."""
        record: dict = {}
        flesh_d = self._flesh(p, record)
        x = p[0]
        group = torch.stack([record[g] for g in _FLESH_GROUPS], dim=-1).argmin(dim=-1)
        flesh = _FLESH_IDS[group]
        skin, cloth = LABELS["skin"], LABELS["cloth"]
        brow = torch.where(x < 0, LABELS["l_brow"], LABELS["r_brow"])
        flesh = torch.where((flesh == skin) & self._brow_mask(p), brow, flesh)
        flesh = torch.where((flesh == cloth) & (sdf.ellipsoid(p, *self.neckline) < 0), LABELS["neck"], flesh)
        flesh = torch.where(-record["socket"] > record["flesh_raw"], skin, flesh)  # eyelid rims are skin
        if "mouth" in record:
            flesh = torch.where(-record["mouth"] > record["flesh_raw"] - 0.05, LABELS["mouth"], flesh)
        dists = [flesh_d] + [part.fn(p) for part in self.overlays]
        ids = torch.tensor([0] + [LABELS[part.name] for part in self.overlays])
        which = torch.stack(dists, dim=-1).argmin(dim=-1)
        return torch.where(which == 0, flesh, ids[which])

    def _brow_mask(self, p: torch.Tensor) -> torch.Tensor:
        """Brows are painted on the skin: a 3D band above each eye (arched, tilted, tapering outwards)."""
        P = self.params
        x, y, z = p
        half_len = 1.75 * P.eye_width
        mask = torch.zeros_like(x, dtype=torch.bool)
        for s in (-1.0, 1.0):
            t = s * (x - s * (P.eye_spacing + 0.15)) / half_len  # -1 at the inner end, +1 at the outer end
            centre_y = self.eye_y + 1.75 + P.brow_height + P.brow_arch * (1.0 - t * t) * 0.5 + P.brow_tilt * t
            half_thick = 0.3 * P.brow_thickness * (1.1 - 0.35 * t)
            mask |= (t.abs() <= 1.0) & ((y - centre_y).abs() <= half_thick) & (z > self.z_eye - 3.0)
        return mask

    # --- colour -------------------------------------------------------------------------------

    def albedo(self, p: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Base colour ``(N, 3)`` and specular strength ``(N,)`` of labelled surface points ``(3, N)``."""
        P = self.params
        x, y, z = p
        n = p.shape[1]
        colour = torch.zeros(n, 3)
        spec = torch.full((n,), 0.1)

        def paint(mask: torch.Tensor, rgb, strength: float) -> None:
            rgb = torch.as_tensor(rgb, dtype=torch.float32)
            colour[mask] = rgb.expand(int(mask.sum()), 3) if rgb.dim() == 1 else rgb[mask]
            spec[mask] = strength

        skin = torch.tensor(P.skin_rgb)
        blush = torch.exp(-((x.abs() - 3.6) ** 2 + (y + 2.6) ** 2) / 3.0)[:, None] * torch.tensor((0.05, -0.03, -0.03))
        paint(torch.isin(labels, _SKIN_LIKE), (skin + blush).clamp(0, 1), 0.12)
        sockets = torch.minimum(*(sdf.ellipsoid(p, *s) for s in self.sockets))
        paint((labels == LABELS["skin"]) & (sockets < 0.12), skin * 0.35, 0.05)  # lash line
        fine = 0.5 + 0.25 * (torch.sin(7.1 * x + 3.3 * y) + torch.sin(5.3 * z - 6.1 * x + 2.9 * y))
        brow = torch.tensor(P.brow_rgb) * (0.75 + 0.4 * fine[:, None])
        paint((labels == LABELS["l_brow"]) | (labels == LABELS["r_brow"]), brow.clamp(0, 1), 0.05)
        paint((labels == LABELS["l_eye"]) | (labels == LABELS["r_eye"]), self._eye_colour(p), 0.6)
        paint(labels == LABELS["u_lip"], torch.tensor(P.lip_rgb) * 0.9, 0.3)
        paint(labels == LABELS["l_lip"], P.lip_rgb, 0.35)
        paint(labels == LABELS["mouth"], (0.28, 0.07, 0.08), 0.1)
        paint((labels == LABELS["mouth"]) & (y > self.mouth_y + 0.05), (0.88, 0.86, 0.8), 0.3)  # upper teeth
        strands = (torch.sin(6.1 * x + 2.0 * torch.sin(1.3 * z)) + torch.sin(5.3 * z + 3.7 * x + 1.9 * y)
                   + torch.sin(0.9 * x - 1.1 * y + 0.7 * z))
        hair = torch.tensor(P.hair_rgb) * (1.0 + 0.06 * strands[:, None])
        paint(labels == LABELS["hair"], hair.clamp(0, 1), 0.2)
        paint(labels == LABELS["hat"], P.hat_rgb, 0.08)
        paint(labels == LABELS["eye_g"], P.glasses_rgb, 0.7)
        paint(labels == LABELS["ear_r"], P.earring_rgb, 0.9)
        paint(labels == LABELS["neck_l"], P.necklace_rgb, 0.9)
        cloth = torch.tensor(P.cloth_rgb).expand(n, 3)
        if P.cloth_stripes:
            stripe = (torch.sin(2.4 * y) > 0).float()[:, None]
            cloth = cloth * (1.0 - 0.45 * stripe) + 0.45 * stripe * torch.tensor((0.95, 0.95, 0.92))
        paint(labels == LABELS["cloth"], cloth, 0.03)
        return colour, spec

    def _eye_colour(self, p: torch.Tensor) -> torch.Tensor:
        """Sclera, iris (darker at its rim) and pupil, from the angle to each eye's forward axis."""
        size = self.params.iris_size
        centre = torch.where(p[:1] < 0, self.eye_centres[0], self.eye_centres[1])
        q = p - centre
        cos = (q[2] / sdf.norm(q).clamp_min(1e-6))[:, None]
        iris_cos = math.cos(0.5 * size)
        t = ((cos - iris_cos) / (1.0 - iris_cos)).clamp(0.0, 1.0)
        iris = torch.tensor(self.params.iris_rgb) * (0.55 + 0.6 * t)
        colour = torch.where(cos > iris_cos, iris, torch.tensor((0.93, 0.91, 0.88)))
        return torch.where(cos > math.cos(0.2 * size), torch.tensor((0.03, 0.03, 0.03)), colour)
