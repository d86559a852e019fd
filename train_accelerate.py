"""Train Sem2NeRF with Hugging Face Accelerate.

    accelerate launch train_accelerate.py --config configs/celebamask_hq.yaml            # the paper's encoder stage
    accelerate launch train_accelerate.py --config configs/synthfaces_generator.yaml     # pre-train a decoder
    python train_accelerate.py --config configs/synthfaces_tiny.yaml train.max_steps=20   # one process, CPU

Any config key can be overridden as ``section.key=value``; ``--resume latest`` continues a run exactly.
See README ("Training") for the stages, the data layouts and the configs.
"""

import sys

from sem2nerf.training import main

if __name__ == "__main__":
    sys.exit(main())
