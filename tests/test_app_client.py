"""The app served on 127.0.0.1 and driven through gradio_client, as a visitor's browser would drive it."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch
import trimesh
from conftest import TINY_CONFIG, face_mask
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import app
from sem2nerf import Sem2NeRF, get_label_scheme

VIEW = {"fov": 12, "size": 64, "samples": 4, "seed": -1, "preset": "colour only", "custom": [3], "seed2": -1, "alpha": 0.5}
EXAMPLES = json.loads((Path(app.__file__).parent / "examples" / "index.json").read_text())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(model, tmp_path_factory) -> tuple[Client, object]:
    demo = app.build_demo(model, "test", workdir=tmp_path_factory.mktemp("app"))
    port = _free_port()
    app.serve(demo, model, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return Client(f"http://127.0.0.1:{port}/", verbose=False), demo


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A tiny model whose encoder calls are counted, served by the app."""
    torch.manual_seed(0)
    model = Sem2NeRF(**TINY_CONFIG).eval()
    with torch.no_grad():
        model.encoder.head.fc.weight.normal_(0, 0.02)
    calls = []
    encode = model.encode

    def counted(*args, **kwargs):
        calls.append(1)
        return encode(*args, **kwargs)

    model.encode = counted
    client, demo = _serve(model, tmp_path_factory)
    yield client, calls
    demo.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Masks and non-masks as a visitor might upload them."""
    d = tmp_path_factory.mktemp("uploads")
    scheme = get_label_scheme("celebamask_hq_raw")
    Image.fromarray(scheme.colorize(face_mask(128))).save(d / "face.png")
    Image.fromarray(face_mask(128), mode="L").save(d / "ids.png")
    Image.fromarray(scheme.merge(face_mask(128)), mode="L").save(d / "merged_ids.png")
    ids = face_mask(128)
    ids[:10, :10] = 50
    Image.fromarray(ids, mode="L").save(d / "unknown_ids.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(d / "photo.png")
    Image.new("RGBA", (96, 96), (0, 0, 0, 0)).save(d / "transparent.png")
    Image.new("L", (10_000, 10_000), 0).save(d / "huge.png")
    (d / "corrupted.png").write_bytes((d / "face.png").read_bytes()[:120] + b"\x00garbage" * 50)
    return {p.stem: p for p in d.iterdir()}


def _canvas(path: Path) -> dict:
    """An ImageEditor value: the image as background and composite, no strokes."""
    return {"background": handle_file(str(path)), "layers": [], "composite": handle_file(str(path))}


def _image(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _view(client: Client, **changes) -> np.ndarray:
    image, depth = client.predict(**{"yaw": 0, "pitch": 0, **VIEW, **changes}, api_name="/view")
    assert _image(depth).shape == _image(image).shape
    return _image(image)


def test_render_and_view_changes_do_not_run_the_encoder_again(served, files):
    client, calls = served
    before = len(calls)
    client.predict(_canvas(files["face"]), api_name="/encode")
    assert len(calls) == before + 1
    front = _view(client)
    side = _view(client, yaw=25)
    closer = _view(client, yaw=25, fov=8, size=96)
    assert front.shape == (64, 64, 3) and closer.shape == (96, 96, 3)
    assert not np.array_equal(front, side)
    assert len(calls) == before + 1, "a view change must only re-render the stored scene"


def test_style_changes_the_image_reproducibly(served, files):
    client, _ = served
    client.predict(_canvas(files["face"]), api_name="/encode")
    own = _view(client)
    styled = _view(client, seed=7, preset="texture")
    assert not np.array_equal(own, styled)
    assert np.array_equal(styled, _view(client, seed=7, preset="texture"))
    blended = _view(client, seed=7, preset="texture", seed2=3, alpha=1.0)
    assert np.array_equal(blended, _view(client, seed=3, preset="texture")), "blend 1.0 is the second style"


def test_turntable_is_a_browser_playable_h264_mp4(served, files):
    client, _ = served
    client.predict(_canvas(files["face"]), api_name="/encode")
    out = client.predict("yaw sweep", 6, 6, 12, 0, 64, 4, -1, "colour only", [3], -1, 0.5, api_name="/turntable")
    path = out["video"] if isinstance(out, dict) else out
    assert Path(path).suffix == ".mp4"
    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["size"] == (64, 64)
    assert sum(1 for _ in reader) == 6


def test_mesh_export_loads_with_vertex_colours(served, files):
    client, _ = served
    client.predict(_canvas(files["face"]), api_name="/encode")
    shown, downloads = client.predict(32, 0.06, -1, "colour only", [3], -1, 0.5, api_name="/mesh")
    assert Path(shown).suffix == ".glb"
    assert sorted(Path(p).suffix for p in downloads) == [".glb", ".ply"]
    for path in downloads:
        mesh = trimesh.load(path, force="mesh", skip_materials=True)  # COLOR_0 as vertex colours
        assert len(mesh.faces) > 0
        assert mesh.visual.kind == "vertex" and mesh.visual.vertex_colors.shape == (len(mesh.vertices), 4)
        assert np.ptp(mesh.visual.vertex_colors[:, :3].astype(int)) > 0


def test_examples_load_their_mask_and_pose(served):
    client, calls = served
    posed = next(e for e in EXAMPLES if e["yaw"] != 0)
    before = len(calls)
    _, yaw, pitch = client.predict(posed["name"], api_name="/load_example")
    assert (yaw, pitch) == (posed["yaw"], posed["pitch"])
    assert len(calls) == before + 1
    assert _view(client, yaw=yaw, pitch=pitch).shape == (64, 64, 3)


def test_label_id_uploads_raw_and_merged(served, files):
    client, _ = served
    raw = client.predict(handle_file(str(files["ids"])), "celebamask_hq_raw", api_name="/upload_mask")
    shown = _image(raw["background"])
    assert shown.shape == (128, 128, 3) and len(np.unique(shown.reshape(-1, 3), axis=0)) > 5
    _view(client)
    merged = client.predict(handle_file(str(files["merged_ids"])), "celebamask_hq_merged", api_name="/upload_mask")
    raw_scheme = get_label_scheme("celebamask_hq_raw")
    as_raw = app.load_mask(_image(merged["background"]), raw_scheme)
    assert np.array_equal(raw_scheme.merge(as_raw.labels), raw_scheme.merge(face_mask(128))), "merged ids keep their classes"


@pytest.mark.parametrize(
    ("what", "call", "message"),
    [
        ("empty canvas", lambda c, f: c.predict(_canvas(f["transparent"]), api_name="/encode"), "empty"),
        ("photo", lambda c, f: c.predict(_canvas(f["photo"]), api_name="/encode"), "photo"),
        ("10,000 x 10,000 upload", lambda c, f: c.predict(handle_file(str(f["huge"])), "celebamask_hq_raw", api_name="/upload_mask"), "10000 x 10000"),
        ("unknown ids", lambda c, f: c.predict(handle_file(str(f["unknown_ids"])), "celebamask_hq_raw", api_name="/upload_mask"), "50"),
        ("corrupted file", lambda c, f: c.predict(handle_file(str(f["corrupted"])), "celebamask_hq_raw", api_name="/upload_mask"), "corrupt"),
        ("no surface at the threshold", lambda c, f: c.predict(32, 1e6, -1, "colour only", [3], -1, 0.5, api_name="/mesh"), "threshold"),
    ],
)
def test_bad_input_gets_a_message_and_the_app_keeps_serving(served, files, what, call, message):
    client, _ = served
    client.predict(_canvas(files["face"]), api_name="/encode")
    with pytest.raises(AppError, match=message):
        call(client, files)
    assert _view(client).shape == (64, 64, 3), f"the app must keep serving after: {what}"


def test_without_a_model_every_action_says_how_to_load_one(files, tmp_path_factory):
    client, demo = _serve(None, tmp_path_factory)
    try:
        for call in (
            lambda: client.predict(_canvas(files["face"]), api_name="/encode"),
            lambda: client.predict(0, 0, 12, 64, 4, -1, "colour only", [8], -1, 0.5, api_name="/view"),
        ):
            with pytest.raises(AppError, match="--model"):
                call()
    finally:
        demo.close()


# --- raw JSON, corrupt canvases, implausible masks (docs/bad_input.md) -----------------------------------------------


class RawSession:
    """One visitor speaking the queue protocol with hand-written JSON, as any HTTP client can (gradio_client refuses
    to send NaN; Python's json writes it as ``NaN`` and the server reads it back as a float)."""

    def __init__(self, client: Client) -> None:
        import uuid

        self.client, self.base = client, client.src.rstrip("/") + "/gradio_api"
        self.session = uuid.uuid4().hex

    def upload(self, path: Path) -> dict:
        import httpx

        with path.open("rb") as f:
            reply = httpx.post(f"{self.base}/upload", files={"files": (path.name, f, "image/png")}, timeout=60)
        reply.raise_for_status()
        return {"path": reply.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def call(self, api_name: str, data: list) -> dict:
        """The ``process_completed`` message of one call (``success`` and ``output``)."""
        import httpx

        body = json.dumps({"data": data, "fn_index": self.client._infer_fn_index(api_name, None), "event_data": None,
                           "session_hash": self.session, "trigger_id": None})  # NaN stays NaN (allow_nan)
        reply = httpx.post(f"{self.base}/queue/join", content=body, headers={"Content-Type": "application/json"},
                           timeout=60)
        reply.raise_for_status()
        event = reply.json()["event_id"]
        with httpx.stream("GET", f"{self.base}/queue/data", params={"session_hash": self.session}, timeout=120) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed" and msg.get("event_id") == event:
                        return msg
        raise AssertionError("no process_completed message")

    def view(self, **changes) -> dict:
        v = {"yaw": 0, "pitch": 0, **VIEW, **changes}
        return self.call("/view", [None, v["yaw"], v["pitch"], v["fov"], v["size"], v["samples"], v["seed"],
                                   v["preset"], v["custom"], v["seed2"], v["alpha"], app.RENDERERS[1], []])


def test_nan_and_inf_sent_as_raw_json_get_a_message_not_a_black_image(served, files):
    client, _ = served
    raw = RawSession(client)
    face = raw.upload(files["face"])
    assert raw.call("/encode", [{"background": face, "layers": [], "composite": face}, None])["success"]
    assert raw.view()["success"], "the raw protocol renders"
    nan, inf = float("nan"), float("inf")
    for change, message in (({"yaw": nan}, "Yaw must be a finite number, got nan"),
                            ({"pitch": -inf}, "Value -inf is less than minimum value -30"),  # Gradio's slider check
                            ({"pitch": nan}, "Pitch must be a finite number, got nan"),
                            ({"fov": nan}, "field of view must be a finite number"),
                            ({"size": nan}, "resolution must be a finite number"),
                            ({"samples": nan}, "samples per ray) must be a finite number"),
                            ({"seed": nan}, "The style seed must be a finite number, got nan"),
                            ({"seed": 3, "seed2": inf}, "The second style seed must be a finite number"),
                            ({"alpha": nan}, "blend towards the second style must be a finite number")):
        msg = raw.view(**change)
        assert msg["success"] is False and message in (msg["output"].get("error") or ""), (change, msg["output"])
    assert raw.view()["success"], "the app keeps serving"
    assert _view(client).shape == (64, 64, 3)


def test_a_corrupt_canvas_image_gets_the_same_message_as_an_upload(served, files):
    client, _ = served
    with pytest.raises(AppError) as upload:
        client.predict(handle_file(str(files["corrupted"])), "celebamask_hq_raw", api_name="/upload_mask")
    with pytest.raises(AppError) as canvas:
        client.predict(_canvas(files["corrupted"]), api_name="/encode")
    assert "corrupted.png looks corrupted" in str(upload.value)
    assert str(canvas.value) == str(upload.value)
    assert "gradio" not in str(canvas.value).lower() and "/tmp" not in str(canvas.value)
    with pytest.raises(AppError, match=r"huge\.png is 10000 x 10000 pixels"):
        client.predict(_canvas(files["huge"]), api_name="/encode")  # refused from the header, before decoding
    client.predict(_canvas(files["face"]), api_name="/encode")
    assert _view(client).shape == (64, 64, 3)


def test_an_implausible_upload_still_renders(served, files):
    """A merged-id mask read as raw ids gets a warning (shown as a toast, see test_app), not an error."""
    client, _ = served
    client.predict(handle_file(str(files["merged_ids"])), "celebamask_hq_raw", api_name="/upload_mask")
    assert _view(client).shape == (64, 64, 3)


def test_regional_style_and_edit_at_this_view_through_the_api(served, files):
    """The region picker and "Edit at this view" are in the API: a style for the hair only is another image than the
    whole head's; an unknown part gets a message; /edit_view returns the view's labels as a canvas and says so."""
    client, calls = served
    client.predict(_canvas(files["face"]), api_name="/encode")
    whole, hair = _view(client, seed=7), _view(client, seed=7, regions=["hair"])
    assert not np.array_equal(whole, hair)
    with pytest.raises(AppError, match="horns"):
        _view(client, seed=7, regions=["horns"])
    before = len(calls)
    canvas, note = client.predict(20, 0, -1, "colour only", [3], -1, 0.5, api_name="/edit_view")
    assert "yaw 20°" in note and len(calls) == before, "the labels come from the scene: no encoding"
    shown = _image(canvas["background"])
    assert shown.shape == (app.EDIT_VIEW_SIZE, app.EDIT_VIEW_SIZE, 3)
    scheme = get_label_scheme("celebamask_hq_raw")
    assert len(np.unique(app.load_mask(shown, scheme).labels)) > 1, "the canvas holds the head's parts"


def test_gradio_cached_files_are_deleted_after_their_age(tmp_path_factory, files, monkeypatch):
    """Uploads and renders that Gradio saves in its cache folder for a visit are deleted after their age (Gradio's
    delete_cache for the files it tracks, app.sweep_gradio_cache for the event outputs it does not): with a 1 s age
    they are gone a few seconds later, the page's own files (examples) stay, and the server keeps serving."""
    monkeypatch.setenv(app.TEMP_AGE_ENV, "1")
    assert app.temp_file_sweep() == (1, 1)
    torch.manual_seed(0)
    model = Sem2NeRF(**TINY_CONFIG).eval()
    before = set(app.gradio_cache_files())
    client, demo = _serve(model, tmp_path_factory)
    try:
        page = {Path(f) for block in demo.blocks.values() for f in getattr(block, "keep_in_cache", set())}
        client.predict(_canvas(files["face"]), api_name="/encode")
        for yaw in (-20, 0, 20):
            _view(client, yaw=yaw)
        visit = set(app.gradio_cache_files()) - before - page
        assert len(visit) >= 6, visit  # the upload, and an image and a depth map per view
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(f.exists() for f in visit):
            time.sleep(0.5)
        assert not [f for f in visit if f.exists()], "Gradio's cached files outlived their age"
        assert all(f.exists() for f in page), "the page's own files stay"
        assert _view(client).shape == (64, 64, 3), "the server still renders after the sweep"
    finally:
        demo.close()


def test_temp_file_sweep_defaults_to_the_exports_age_and_refuses_bad_values(monkeypatch):
    monkeypatch.delenv(app.TEMP_AGE_ENV, raising=False)
    assert app.temp_file_sweep() == (360, app.OUTPUT_MAX_AGE_S)
    for bad in ("soon", "0"):
        monkeypatch.setenv(app.TEMP_AGE_ENV, bad)
        with pytest.raises(SystemExit, match=app.TEMP_AGE_ENV):
            app.temp_file_sweep()
