"""One procedural head as a signed-distance scene with CelebAMask-HQ labels and colours.

The scene lives in the *head frame* (centimetres; x to the image right of a frontal view, y up,
z towards a frontal camera). It is a hard union of parts: the flesh (a smooth blend of skull, face,
jaw, cheeks, nose, ears, neck and torso, with eye sockets and an open mouth carved out), eyeballs,
lips, hair, and optional hat, glasses, earrings and necklace. Labels are functions of the 3D
surface point only, so every view of a head agrees on them.

Left and right follow CelebAMask-HQ: ``l_eye``, ``l_brow`` and ``l_ear`` are the person's left, i.e. at x > 0, on the
image's right in a frontal view. Per-side tuples (eyes, sockets, ears, hair sides) list the person's left first.

Every part carries a bounding sphere: :meth:`SynthHead.distance` evaluates a part only at points
where it can change the result, which keeps sphere tracing fast without changing the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
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
_SIDES = (1.0, -1.0)  # x sign of the person's left, then right side
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
        self.cran = (v(0.0, 2.0, -1.0), v(6.8 * hw, 8.8 * hh, 9.6 * hd))
        self.face = (v(0.0, -2.5, 2.3), v(6.1 * hw, 7.0, 6.0))
        self.jaw = (v(0.0, -5.3 - 0.3 * P.chin_drop, 2.2 - 1.2 * (P.jaw_square - 1.0)),
                    v(5.0 * P.jaw_width * hw, 3.6 + 0.3 * P.chin_drop, 5.3 * P.jaw_square))
        self.chin = (v(0.0, -7.4 - P.chin_drop, 5.6), v(2.4 * P.chin_width, 1.7, 2.0))
        cheek_r = v(2.1, 2.0, 2.1) * P.cheek_fullness
        self.cheeks = ((v(-3.3, -2.6, 5.2), cheek_r), (v(3.3, -2.6, 5.2), cheek_r))
        self.ridge = (v(0.0, 2.3 + 0.5 * P.brow_height, 6.6), v(5.4 * hw, 1.6, 2.0))
        # features are placed on the skin surface, so they sit right on any head shape
        ex = P.eye_spacing
        self.eye_y = 0.3
        self.z_eye = self._surface_z(ex, self.eye_y)
        self.eye_radius = 1.25
        self.eye_centres = tuple(v(s * ex, self.eye_y, self.z_eye - 0.1 - self.eye_radius) for s in _SIDES)
        socket_r = v(1.3 * P.eye_width, 0.52 * P.eye_open, 1.15)
        self.sockets = tuple((v(s * ex, self.eye_y + 0.05, self.z_eye + 0.2), socket_r) for s in _SIDES)
        nl, nw = P.nose_length, P.nose_width
        y_tip = -3.0 * nl
        z_root = self._surface_z(0.0, 0.8)
        z_tip = self._surface_z(0.0, y_tip) + 1.9 * P.nose_protrusion
        self.nose_bridge = (v(0.0, 0.8, z_root - 0.45), v(0.0, y_tip + 0.3, z_tip - 0.75), 0.62 * (0.8 + 0.2 * nw))
        self.nose_tip = (v(0.0, y_tip, z_tip - 0.85), 0.85 * (0.85 + 0.15 * nw))
        z_wing = self._surface_z(1.1 * nw, y_tip - 0.35)
        self.nose_wings = tuple((v(s * 1.05 * nw, y_tip - 0.35, z_wing + 0.1), v(0.75, 0.6, 0.75)) for s in (-1.0, 1.0))
        mw, lt, op = P.mouth_width, P.lip_thickness, P.mouth_open
        self.mouth_y = -5.5 - 0.3 * P.chin_drop
        z_m = self._surface_z(0.0, self.mouth_y)
        self.lip_bend = 0.09
        self.upper_lip = (v(0.0, self.mouth_y + 0.42 * lt + op / 2, z_m - 0.45), v(2.3 * mw, 0.5 * lt, 0.85))
        self.lower_lip = (v(0.0, self.mouth_y - 0.5 * lt - op / 2, z_m - 0.55), v(2.1 * mw, 0.62 * lt, 0.85))
        self.cavity = (v(0.0, self.mouth_y, z_m - 0.7), v(1.9 * mw, op / 2 + 0.45 * lt, 1.6)) if op > 0.05 else None
        self.x_ear = self._surface_x(-0.3, -0.8)
        es = P.ear_size
        self.ears = tuple((v(s * (self.x_ear + 0.15), -0.3, -0.8), v(0.85, 3.4 * es, 2.1 * es)) for s in _SIDES)
        self.ear_bottom = -0.3 - 3.4 * es
        self.neck = (v(0.0, -4.0, -1.2), v(0.0, -22.0, -0.4), 5.3 * P.neck_width)
        # The torso sits higher than anatomy would put it: real portrait masks show clothes at the frame's bottom
        # corners from about 7 cm below the eyes, and the pi-GAN box ends 12 cm below them.
        sw, sy = 10.5 * P.shoulder_width, -13.2 - P.shoulder_drop
        self.torso_pivot = v(0.0, -11.0, -2.0)
        turn, tilt = math.radians(P.torso_turn), math.radians(P.shoulder_tilt)
        self.torso_rot = torch.tensor(((math.cos(turn), 0.0, -math.sin(turn)), (0.0, 1.0, 0.0),
                                       (math.sin(turn), 0.0, math.cos(turn)))) @ torch.tensor(
            ((math.cos(tilt), math.sin(tilt), 0.0), (-math.sin(tilt), math.cos(tilt), 0.0), (0.0, 0.0, 1.0)))
        self.shoulders = (v(-sw, sy, -3.2), v(sw, sy, -3.2), 4.6)
        self.chest = (v(0.0, -16.5, -0.8), v(11.5 * P.shoulder_width, 5.5, 6.4))
        self.neckline = (v(P.neckline_shift, -12.6, 4.0), v(4.2, 1.4 * P.neckline_depth, 6.5))
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
        """Free-form hair: a scalp shell with a volume per side under a hairline (parting, fringe, sweep), a lock per
        side hanging to that side's length (flaring, optionally over the shoulder), waves and an optional bun."""
        P = self.params
        vol = P.hair_volume
        cc, cr = self.cran
        centre = cc + sdf.vec(0.0, 0.25 * vol, -0.15 * vol)
        radii = cr + sdf.vec(1.6, 1.4, 1.0) * vol
        self.shell = (centre, radii + sdf.vec(1.6 * vol * (max(P.hair_volume_left, P.hair_volume_right) - 1.0), 0, 0))
        self.shell_rx = tuple(float(cr[0]) + 1.6 * vol * side for side in (P.hair_volume_left, P.hair_volume_right))
        self.shell_centre, self.shell_radii = centre, radii
        # the hairline rises from the nape (y = -5.5 at z = -10) to the front line (z = 8); a fringe lowers the front
        top = 7.0 + P.hairline
        self.hair_front = top + (2.5 + 0.3 * P.hairline - top) * P.hair_fringe
        self.hair_y_back = -5.5
        sides = (P.hair_length_left, P.hair_length_right)
        self.ear_clear = tuple(length > -1.0 for length in sides)
        self.locks = []  # per side: (x sign, bottom y, outer x at the top, flare, front z, forward reach)
        for s, length, rx, front in zip(_SIDES, sides, self.shell_rx, (P.hair_front_left, P.hair_front_right),
                                         strict=True):
            if P.hair_style == "bald" or length > -1.5:
                continue
            flare = min(2.5, 0.12 * (-length)) * vol
            front_z = 1.5 if length < -6.0 else -0.8  # hair to the jaw or longer falls over the ear
            self.locks.append((s, length, rx * 0.97 + 0.4, flare, front_z, 6.0 if front else 0.0))
        rng = np.random.default_rng(P.hair_seed)
        k = rng.normal(size=(4, 3))
        k = k / np.linalg.norm(k, axis=1, keepdims=True) * np.array([[0.55], [0.75], [1.4], [1.9]])
        self.wave_k = torch.tensor(k.T, dtype=torch.float32)  # (3, 4) wave vectors, rad per cm
        self.wave_phase = torch.tensor(rng.uniform(0, 2 * math.pi, 4), dtype=torch.float32)[:, None]
        curl = min(1.0, max(0.0, (P.hair_wave - 0.35) / 0.65))  # curly hair adds the finer waves
        self.wave_amp = torch.tensor((0.6, 0.5, 0.35 * curl, 0.3 * curl), dtype=torch.float32)[:, None] * P.hair_wave
        self.wave_lipschitz = 1.0 + float((self.wave_amp[:, 0] * torch.linalg.vector_norm(self.wave_k, dim=0)).sum())
        self.bun = (sdf.vec(0.3 * P.hair_part, 6.2, -8.4), 2.6) if P.hair_tie == "bun" else None

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
        torso_bound = (self.torso_pivot + self.torso_rot.T @ (torso_bound[0] - self.torso_pivot), torso_bound[1])
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
            # the scalp, each side's lock and a bun are separate parts (a hard union), so that each is evaluated only
            # near its own bound; the same waves displace all of them, so their outlines continue across the seams
            pad = 0.5 + float(self.wave_amp.sum())
            overlays.append(_Part("hair", self._hair, *_enclose(_ell_bound(*self.shell), pad=pad)))
            for lock in self.locks:
                side, bottom, outer, flare, front_z, reach = lock
                back = -10.5 * P.head_depth - 0.5 * P.hair_volume
                lo = sdf.vec(min(0.0, side * (outer + flare)), bottom, back)
                hi = sdf.vec(max(0.0, side * (outer + flare)), -1.0, front_z + reach)
                bound = ((lo + hi) * 0.5, float(torch.linalg.vector_norm(hi - lo)) * 0.5 + pad)
                overlays.append(_Part("hair", lambda p, lock=lock: self._waved(self._lock(p, *lock), p), *bound))
            if self.bun is not None:
                overlays.append(_Part("hair", lambda p: self._waved(sdf.sphere(p, *self.bun), p), self.bun[0],
                                      self.bun[1] + pad))
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

    def _torso_frame(self, p: torch.Tensor) -> torch.Tensor:
        """Points in the frame of the turned and tilted torso (a rotation about ``torso_pivot``)."""
        return self.torso_rot @ (p - self.torso_pivot) + self.torso_pivot

    def _torso(self, p: torch.Tensor) -> torch.Tensor:
        q = self._torso_frame(p)
        return sdf.smin(sdf.capsule(q, *self.shoulders), sdf.ellipsoid(q, *self.chest), 3.0)

    def _neckline(self, p: torch.Tensor) -> torch.Tensor:
        """Points of the clothes' surface that show the neck: a round or V-shaped opening below the throat."""
        q = self._torso_frame(p)
        inside = sdf.ellipsoid(q, *self.neckline) < 0
        if self.params.neckline_v:
            top = float(self.neckline[0][1]) + 1.0
            depth = 2.4 * self.params.neckline_depth
            inside |= ((q[0] - float(self.neckline[0][0])).abs() < 0.9 * (q[1] - (top - depth)) + 0.6) & (q[1] < top) & (q[2] > 0)
        return inside

    def _hair(self, p: torch.Tensor) -> torch.Tensor:
        P = self.params
        x, y, z = p
        rx = torch.where(x > 0, self.shell_rx[0], self.shell_rx[1])
        radii = torch.stack((rx, self.shell_radii[1].expand_as(rx), self.shell_radii[2].expand_as(rx)))
        d = sdf.ellipsoid(p, self.shell_centre, radii)
        # the front line: the sweep tilts it, an off-centre parting lifts it where the hair divides
        notch = (1.0 - P.hair_fringe) * 1.2 * (1.0 - (x - P.hair_part).abs() / 1.6).clamp_min(0.0)
        front = self.hair_front - P.hair_sweep * 0.35 * x + notch
        slope = (front - self.hair_y_back) / 18.0
        # at the temples (the head's sides, behind the eyes) the hair comes down to the ears' middle
        temple = ((x.abs() - 5.5) / 1.5).clamp(0.0, 1.0) * ((5.0 - z) / 3.0).clamp(0.0, 1.0)
        above = (y - self.hair_y_back - slope * (z + 10.0) + 2.6 * temple) / torch.sqrt(1.0 + slope * slope)
        d = sdf.smax(d, -above, 0.4)
        for clear, (ear_c, _) in zip(self.ear_clear, self.ears, strict=True):
            if clear:
                d = sdf.smax(d, -sdf.sphere(p, ear_c + sdf.vec(0.0, 0.8, 0.0), 2.8), 0.5)
        return self._waved(d, p)

    def _waved(self, d: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """A hair distance displaced by the identity's waves, scaled back to a distance bound."""
        waves = (self.wave_amp * torch.sin(self.wave_k.T @ p + self.wave_phase)).sum(0)
        return (d - waves) / self.wave_lipschitz

    def _lock(self, p: torch.Tensor, side: float, bottom: float, outer: float, flare: float, front_z: float,
              reach: float) -> torch.Tensor:
        """One side's hanging hair: a rounded slab from the midline to ``outer`` (flaring by ``flare`` towards its
        end), from y = -1 down to ``bottom``, behind ``front_z``; ``reach`` brings it forward below the chin."""
        x = side * p[0]
        y, z = p[1], p[2]
        down = ((-1.0 - y) / max(-1.0 - bottom, 1e-3)).clamp(0.0, 1.0)
        half_x = 0.5 * (outer + flare * down)
        back = -10.5 * self.params.head_depth - 0.5 * self.params.hair_volume
        zf = front_z + reach * ((-10.0 - y) / 3.0).clamp(0.0, 1.0)
        rounding = 2.0
        q = torch.stack(((x - half_x).abs() - half_x, (y - 0.5 * (bottom - 1.0)).abs() - 0.5 * (-1.0 - bottom),
                         (z - 0.5 * (zf + back)).abs() - 0.5 * (zf - back))) + rounding
        return (sdf.norm(q.clamp_min(0.0)) + q.max(dim=0).values.clamp_max(0.0) - rounding) / (1.0 + 0.5 * flare / 10.0)

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
        brow = torch.where(x > 0, LABELS["l_brow"], LABELS["r_brow"])
        flesh = torch.where((flesh == skin) & self._brow_mask(p), brow, flesh)
        flesh = torch.where((flesh == cloth) & self._neckline(p), LABELS["neck"], flesh)
        flesh = torch.where(-record["socket"] > record["flesh_raw"], skin, flesh)  # eyelid rims are skin
        if "mouth" in record:
            flesh = torch.where(-record["mouth"] > record["flesh_raw"] - 0.05, LABELS["mouth"], flesh)
        dists = [flesh_d] + [part.fn(p) for part in self.overlays]
        ids = torch.tensor([0] + [LABELS[part.name] for part in self.overlays])
        which = torch.stack(dists, dim=-1).argmin(dim=-1)
        return torch.where(which == 0, flesh, ids[which])

    def _beard_mask(self, p: torch.Tensor) -> torch.Tensor:
        """Facial hair, painted on the skin (CelebAMask-HQ labels it skin): moustache, goatee or a full beard."""
        P = self.params
        x, y, z = p
        lip_top = self.mouth_y + 0.42 * P.lip_thickness + P.mouth_open / 2 + 0.4
        front = z > float(self.upper_lip[0][2]) - 4.0
        moustache = (x.abs() < 2.6 * P.mouth_width) & (y > lip_top - 0.6) & (y < lip_top + 1.3) & front
        goatee = (x.abs() < 2.2 * P.chin_width) & (y < self.mouth_y - 1.0) & front
        if P.beard == "moustache":
            return moustache
        if P.beard == "goatee":
            return moustache | goatee
        cheeks = (y < -3.6 - 0.4 * x.abs()) & (z > -1.0)
        return moustache | cheeks

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
        if P.beard != "none":
            beard = torch.tensor(P.hair_rgb) * (0.85 + 0.1 * torch.sin(9.1 * x + 4.3 * y)[:, None])
            paint((labels == LABELS["skin"]) & self._beard_mask(p), beard.clamp(0, 1), 0.05)
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
        centre = torch.where(p[:1] > 0, self.eye_centres[0], self.eye_centres[1])
        q = p - centre
        cos = (q[2] / sdf.norm(q).clamp_min(1e-6))[:, None]
        iris_cos = math.cos(0.5 * size)
        t = ((cos - iris_cos) / (1.0 - iris_cos)).clamp(0.0, 1.0)
        iris = torch.tensor(self.params.iris_rgb) * (0.55 + 0.6 * t)
        colour = torch.where(cos > iris_cos, iris, torch.tensor((0.93, 0.91, 0.88)))
        return torch.where(cos > math.cos(0.2 * size), torch.tensor((0.03, 0.03, 0.03)), colour)
