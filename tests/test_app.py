"""The minimal app: builds offline with or without a model, encodes once, re-renders from the state."""

import gradio as gr
import numpy as np
import pytest
from PIL import Image

import app


def _fn(demo: gr.Blocks, name: str):
    return next(f.fn for f in demo.fns.values() if f.fn is not None and f.fn.__name__ == name)


def test_without_a_model_the_page_explains_how_to_load_one(mask_array):
    demo = app.build_demo(None, app.NO_MODEL)
    with pytest.raises(gr.Error, match="--model"):
        _fn(demo, "encode")(mask_array)


def test_with_a_model_encode_then_render(tiny_model, mask_array):
    demo = app.build_demo(tiny_model, "test model")
    encode, render = _fn(demo, "encode"), _fn(demo, "render")
    scene = encode(np.stack([mask_array] * 3, -1))  # grey RGB, as gr.Image delivers it
    image = render(scene, 10, 0, 12, 32, 4, -1, False)
    assert isinstance(image, Image.Image) and image.size == (32, 32)
    styled = render(scene, 10, 0, 12, 32, 4, 7, True)
    assert not np.array_equal(np.asarray(image), np.asarray(styled))
    with pytest.raises(gr.Error, match="photo"):
        rng = np.random.default_rng(0)
        encode(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(gr.Error, match="Upload"):
        encode(None)
