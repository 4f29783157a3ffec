"""The work behind trainer commands that is more than one call: kept apart from trainer.cli so
that the command line stays a list of options. Nothing here imports torch at module level:
`trainer --help` must not wait for it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path


def task_names() -> tuple[str, ...]:
    from trainer.kinds import TASKS  # the registry: a new kind is a new choice

    return TASKS


def preset_names() -> list[str]:
    from trainer.presets import PRESETS  # plain dictionaries: no torch to check a name

    return sorted({name for presets in PRESETS.values() for name in presets})


EVALUATE_METRICS = "metrics-evaluate.json"  # training writes metrics.json: never overwritten


def evaluate_suffix(limit: int | None) -> str:
    """`-evaluate` for the whole splits, `-evaluate-limit-N` for a limited draw: a quick
    `--limit 50` check never overwrites the full evaluation's files, nor one with another limit."""
    return "-evaluate" if limit is None else f"-evaluate-limit-{limit}"


def evaluate_metrics_name(limit: int | None) -> str:
    """The metrics file `trainer evaluate --limit LIMIT` writes (EVALUATE_METRICS for no limit)."""
    return f"metrics{evaluate_suffix(limit)}.json"


def _output_folder(out: Path) -> None:
    from edge_monitor.errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the evaluation's files")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot make the folder --out {out}: {exc.strerror}") from None


def evaluate_to_own_files(
    checkpoint: Path, data_dir: Path | None, out: Path, cache_dir: Path | None, limit: int | None
) -> dict:
    """`evaluate_checkpoint` on splits drawn with this command's limit, its files renamed
    `*-evaluate.*` (`*-evaluate-limit-N.*` with a limit) in `out`: it writes metrics.json,
    predictions.npz and roc.png into a folder."""
    import shutil
    import tempfile

    from trainer.checkpoint import load_checkpoint
    from trainer.evaluate import evaluate_checkpoint
    from trainer.kinds import kind_of
    from trainer.metrics import write_json
    from trainer.tasks import load_task

    _output_folder(out)  # before the scoring work, not after it
    _, ckpt = load_checkpoint(checkpoint)
    kind, seed = kind_of(ckpt["task"]), ckpt["train_config"]["seed"]
    leads = kind.lead_option(kind.leads(ckpt["preprocessing"]))
    data = load_task(kind.name, data_dir, leads, cache_dir, limit, seed)
    suffix = evaluate_suffix(limit)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        result = evaluate_checkpoint(checkpoint, data_dir, Path(tmp), cache_dir, data=data)
        result["limit"] = limit
        write_json(Path(tmp) / "metrics.json", result)
        for made in Path(tmp).iterdir():
            shutil.move(made, out / f"{made.stem}{suffix}{made.suffix}")
    return result


def working(what: str) -> AbstractContextManager:
    """A spinner with the time spent (a line in a pipe) around one long call that reports no
    progress of its own; never around training, which draws its own bars."""
    from trainer.progress import progress

    return progress(what, None)


def compress_from_options(options: dict, say: Callable[[str], None]) -> dict:
    """`trainer compress`'s options (its parameters, as CompressOptions names them) -> the chain;
    a bad profile or task is said before torch loads (seconds)."""
    import sys

    from edge_monitor.profiles import load_profile
    from trainer.kinds import kind_of

    task, profile = options["task"], options["profile"]
    load_profile(profile)  # a typo is said at once, before torch loads (seconds)
    kind_of(task)
    if options.get("config") is not None:  # as is a bad recipe file, or one the flags upset
        from trainer.config import chain_recipe

        flags = ("epochs", "threads", "noise_snr_min_db")
        chain_recipe(options["config"], task, **{k: options[k] for k in flags})
    from trainer.compress import CompressOptions, compress

    opts = CompressOptions(
        **{
            **options,
            "out": options["out"] or Path("bundles") / f"{task}-{Path(profile).stem}",
            "student_seeds": tuple(options["student_seeds"] or ()),
            "command": "trainer " + " ".join(sys.argv[1:]),
        }
    )
    return compress(opts, say=say)
