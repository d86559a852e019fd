"""Training of Sem2NeRF with Accelerate: the encoder stage of the paper and decoder (generator) pre-training.

Run it with ``accelerate launch train_accelerate.py --config configs/<name>.yaml [key.sub=value ...]``.
"""

from .config import ConfigError, TrainConfig, apply_overrides, load_config

__all__ = ["ConfigError", "TrainConfig", "apply_overrides", "load_config", "main", "train"]


def train(*args, **kwargs):
    """Run one training stage (see :func:`sem2nerf.training.trainer.train`)."""
    from .trainer import train as _train

    return _train(*args, **kwargs)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of ``train_accelerate.py``; returns the exit code."""
    import argparse
    import sys

    from ..errors import Sem2NeRFError
    from .config import config_layout

    parser = argparse.ArgumentParser(
        prog="train_accelerate.py",
        description="Train Sem2NeRF (encoder stage) or pre-train its pi-GAN decoder (generator stage). "
        "Launch with `accelerate launch train_accelerate.py ...` for one or many GPUs; plain `python` runs one process.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config layout (data, model, render, optim, train: both stages; loss: losses both stages use; encoder, "
        "generator: each stage's own):\n" + config_layout() + "\n\nname={...}|null is an option group: on when present "
        "(a mapping of its keys, or true for its defaults), off when absent or null;\nsetting one of its keys switches it "
        "on (encoder.latent.weight=1), encoder.latent=null switches it off. --print-config shows every key.",
    )
    parser.add_argument("--config", help="YAML config (configs/*.yaml); omitted: the official encoder-stage defaults")
    parser.add_argument("--resume", metavar="latest|DIR", help="continue from a checkpoint folder (or the latest in output_dir)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config (every key, in the layout below) and exit")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value",
                        help="override any config key, e.g. train.max_steps=1000 loss.lpips=0 generator.geometry.points=512")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.overrides)
        if args.print_config:
            import yaml

            print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
            return 0
        from .trainer import command_line

        export = train(config, resume=args.resume, command=command_line())
    except (ConfigError, Sem2NeRFError, FloatingPointError) as err:
        print(f"train_accelerate.py: error: {err}", file=sys.stderr)
        return 2
    print(f"export: {export}")
    return 0
