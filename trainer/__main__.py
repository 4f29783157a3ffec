"""`python -m trainer`; under torchrun (`torchrun --nproc_per_node=N -m trainer train ...`) rank 0
runs the command and the other ranks train beside it (`trainer.distributed`)."""

import os

from trainer.cli import app

if "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ:  # started by torchrun
    from trainer.distributed import launch

    launch(app)
else:
    app()
