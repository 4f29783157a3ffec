"""Where a data set lives: --data-dir, else its own variable, else $ECG_EDGE_DATA/<name>."""

from __future__ import annotations

import os
from pathlib import Path

from edge_monitor.errors import DataNotFoundError

ROOT_ENV = "ECG_EDGE_DATA"


def dataset_dir(data_dir: str | Path | None, env: str, name: str, title: str) -> Path:
    if data_dir is None:
        data_dir = os.environ.get(env)
    if data_dir is None and ROOT_ENV in os.environ:
        data_dir = Path(os.environ[ROOT_ENV]) / name
    if data_dir is None:
        raise DataNotFoundError(f"no {title} folder given: pass --data-dir or set ${env}")
    path = Path(data_dir)
    if not path.is_dir():
        raise DataNotFoundError(f"{title} folder not found: {path}")
    return path
