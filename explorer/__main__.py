"""``python -m explorer ...`` is ``latent-explorer ...``; it is what torchrun launches:

    torchrun --nproc_per_node=2 -m explorer train vae --data fashion-mnist --out m.safetensors
"""
import sys

from explorer.cli import main

if __name__ == "__main__":
    sys.exit(main())
