"""Sem2NeRF demo (minimal): upload a semantic mask, turn it in 3D, mix styles.

Run: ``python app.py [--model FOLDER_OR_REPO_ID] [--host 127.0.0.1] [--port 7860] [--share]``
(or set ``SEM2NERF_MODEL``). The full editor (sketchpad, exports, baked fast preview) is on its way.
"""

from __future__ import annotations

import argparse
import os

import gradio as gr
import numpy as np

from sem2nerf import MaskError, ModelLoadError, Sem2NeRF

MODEL_ENV = "SEM2NERF_MODEL"
NO_MODEL = (
    "No model is loaded. Start the app with `python app.py --model FOLDER_OR_REPO_ID` (a folder holding "
    "config.json + model.safetensors, or a Hugging Face repo id), or set SEM2NERF_MODEL. "
    "A bundled default model is not shipped yet."
)


def build_demo(model: Sem2NeRF | None, status: str) -> gr.Blocks:
    """The Gradio app around one loaded model (``None``: the page explains how to load one)."""

    def encode(mask):
        if model is None:
            raise gr.Error(NO_MODEL)
        if mask is None:
            raise gr.Error("Upload a semantic mask first (a label-id PNG or a palette-coloured mask).")
        try:
            return model.encode(np.asarray(mask))
        except MaskError as err:
            raise gr.Error(str(err)) from None

    def render(scene, yaw, pitch, fov, size, samples, style_seed, texture):
        if scene is None:
            raise gr.Error("Encode a mask first.")
        layers = None
        if texture:
            n = model.decoder.num_film_layers
            layers = list(range(max(0, n - 3), n))
        styled = model.mix_style(scene, None if style_seed < 0 else int(style_seed), layers)
        return model.render(styled, yaw, pitch, fov, int(size), int(samples))

    with gr.Blocks(title="Sem2NeRF") as demo:
        gr.Markdown("# Sem2NeRF\nOne semantic mask of a face -> a 3D scene you can turn.\n\n" + status)
        scene = gr.State(None)
        with gr.Row():
            with gr.Column():
                mask = gr.Image(label="Semantic mask (label ids or palette colours)", type="numpy", image_mode="RGB")
                yaw = gr.Slider(-60, 60, value=0, step=1, label="Yaw (degrees)")
                pitch = gr.Slider(-30, 30, value=0, step=1, label="Pitch (degrees)")
                fov = gr.Slider(6, 24, value=model.fov if model else 12, step=0.5, label="Field of view (degrees)")
                size = gr.Slider(32, 256, value=64, step=32, label="Resolution")
                samples = gr.Slider(4, 48, value=12, step=2, label="Samples per ray")
                style_seed = gr.Number(value=-1, precision=0, label="Style seed (-1: the mask's own style)")
                texture = gr.Checkbox(label="Style changes texture too (last three FiLM layers), not only colour")
                button = gr.Button("Render", variant="primary")
            with gr.Column():
                output = gr.Image(label="Render", type="pil")
        inputs = [scene, yaw, pitch, fov, size, samples, style_seed, texture]
        button.click(encode, mask, scene).then(render, inputs, output)
        for slider in (yaw, pitch, fov, size, samples):
            slider.release(render, inputs, output)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description="Sem2NeRF demo")
    parser.add_argument("--model", default=os.environ.get(MODEL_ENV), help="model folder or Hugging Face repo id")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true")
    args = parser.parse_args()
    model, status = None, NO_MODEL
    if args.model:
        try:
            model = Sem2NeRF.from_pretrained(args.model)
            status = f"Model: `{args.model}`"
        except ModelLoadError as err:
            status = f"Could not load `{args.model}`: {err}"
    demo = build_demo(model, status)
    demo.queue(default_concurrency_limit=2).launch(server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
