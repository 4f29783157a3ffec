"""trainer: data sets, training and evaluation on the host. Each command calls one function."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from edge_monitor.cli_support import (
    HELP_OPTIONS,
    Choices,
    Profile,
    guarded,
    version_option,
)
from edge_monitor.profiles import DEFAULT_PROFILE
from trainer.cli_work import (
    EVALUATE_METRICS,
    compress_from_options,
    evaluate_metrics_name,
    evaluate_to_own_files,
    preset_names,
    task_names,
    working,
)
from trainer.datasets.download import DATABASES

# What `pip install 'ecg-edge[train]'` adds to the edge runtime (pyproject.toml)
TRAIN_EXTRA = {"torch", "onnx", "onnxscript", "sklearn", "pandas", "matplotlib"}


class _TrainerGroup(TyperGroup):
    """The light install (edge runtime only) lacks the training libraries: any command that
    reaches for one ends in one line saying what to install, not a ModuleNotFoundError."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in TRAIN_EXTRA:
                raise
            line = f"{exc.name} is not installed: install the train extra: "
            line += "pip install 'ecg-edge[train]'"
            err_console.print(f"[red]error:[/red] {escape(line)}", highlight=False)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_TrainerGroup,
    help="Train, evaluate and compress ECG models for the edge.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)


@app.callback()
def _main(version: Annotated[bool, version_option("trainer")] = False) -> None:
    """Train, evaluate and compress ECG models for the edge."""


data_app = typer.Typer(help="Inspect and fetch the ECG data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
# log files get whole lines; no markup: the lines quote the user's paths ("runs/a[/]b" is one)
console = Console(soft_wrap=True, markup=False)
err_console = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="data set folder (else the "
        "task's environment variable: ECG_EDGE_PTBXL, ECG_EDGE_MITDB, ECG_EDGE_DATA)",
    ),
]
CacheDir = Annotated[
    Path | None, typer.Option(help="npz cache folder (else $ECG_EDGE_CACHE or ~/.cache/ecg-edge)")
]


DATA_SETS = Choices("data set", lambda: tuple(DATABASES))
TASKS = Choices("task", task_names)
PRESETS = Choices("model preset", preset_names)
Task = Annotated[str, TASKS.option("task kind (`trainer models` lists them with their presets)")]
Preset = Annotated[
    str,
    PRESETS.option(
        "model preset (`trainer models --task TASK` lists a task's)", "--model", metavar="PRESET"
    ),
]


@data_app.command("info")
def data_info(
    path: Annotated[Path, typer.Argument(help="a PTB-XL or MIT-BIH data set folder")],
    cache_dir: CacheDir = None,
) -> None:
    """Counts per class and split of a PTB-XL or MIT-BIH folder."""
    from trainer.datasets.info import dataset_info

    info = guarded(dataset_info, path, cache_dir)
    table = Table(title=info["title"])
    table.add_column("split")
    for c in info["classes"]:
        table.add_column(c, justify="right")
    table.add_column(info["unit"], justify="right")
    for split, row in info["rows"].items():
        table.add_row(split, *[str(row["counts"][c]) for c in info["classes"]], str(row["total"]))
    console.print(table)
    for note in info["notes"]:
        console.print(note, highlight=False)


@data_app.command("download")
def data_download(
    name: Annotated[str, DATA_SETS.argument(f"data set: {' or '.join(DATABASES)}", "NAME")],
    to: Annotated[Path, typer.Option("--to", help="folder to download into")],
) -> None:
    """Fetch ptbxl (100 Hz records) or mitdb from PhysioNet."""
    from trainer.datasets.download import download

    with working(f"downloading {name} into {to}"):
        where = guarded(download, name, to)
    console.print(f"downloaded to {where}")


@app.command()
def models(
    task: Annotated[
        str | None,
        TASKS.option("task kind; default: every task", metavar="TASK"),
    ] = None,
) -> None:
    """Parameters and MACs of every model preset of a task (of every task by default)."""
    from trainer.models import PRESETS, build_model, model_size, preset

    for kind in [task] if task else task_names():
        if not PRESETS.get(kind):
            console.print(f"{kind}: no presets", highlight=False)
        for name in PRESETS.get(kind, {}):
            size = model_size(build_model(preset(kind, name))).describe()
            console.print(f"{kind} {name}: {size}", highlight=False)


@app.command()
def train(
    task: Task = "diagnostic",
    model: Preset = "teacher",
    out: Annotated[Path, typer.Option(help="run folder for model.pt")] = Path("runs/latest"),
    data_dir: DataDir = None,
    config: Annotated[
        Path | None, typer.Option(help=escape("TOML file with a [train] table"))
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="most epochs (preset default)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="inputs per step")] = None,
    lr: Annotated[float | None, typer.Option(help="peak learning rate")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of weights, draws and order")] = None,
    patience: Annotated[
        int | None, typer.Option(help="epochs without validation gain before stopping")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads")] = None,
    limit: Annotated[int | None, typer.Option(help="records/beats per split, quick runs")] = None,
    leads: Annotated[str | None, typer.Option(help="diagnostic leads: all, II, 'I,II,V2'")] = None,
    cache_dir: CacheDir = None,
    evaluate: Annotated[bool, typer.Option(help="score on the test split afterwards")] = True,
    teacher: Annotated[Path | None, typer.Option(help="teacher checkpoint: distil from it")] = None,
    kd_alpha: Annotated[
        float | None, typer.Option(help="share of the loss from the teacher")
    ] = None,
    kd_temperature: Annotated[
        float | None, typer.Option(help="softmax temperature of the distillation")
    ] = None,
) -> None:
    """Train a model, keeping the epoch its task or --config says (the best on the validation
    split, with early stopping, or the last); writes OUT/model.pt.

    Several GPUs or processes: torchrun --nproc_per_node=N -m trainer train ... (docs/training.md)
    """
    from trainer.runs import train_run

    summary = guarded(
        train_run,
        task=task,
        model=model,
        out=out,
        data_dir=data_dir,
        config=config,
        leads=leads,
        cache_dir=cache_dir,
        evaluate=evaluate,
        overrides=dict(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            patience=patience,
            threads=threads,
            limit=limit,
            kd_alpha=kd_alpha,
            kd_temperature=kd_temperature,
        ),
        teacher=teacher,
    )
    for line in summary:
        console.print(line, highlight=False)


@app.command()
def prune(
    checkpoint: Annotated[Path, typer.Argument(help="trained model.pt to prune")],
    ratio: Annotated[float, typer.Option(help="share of each block's inner channels to remove")] = (
        0.6
    ),
    out: Annotated[Path, typer.Option(help="run folder for the pruned model")] = Path(
        "runs/pruned"
    ),
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
    teacher: Annotated[Path | None, typer.Option(help="fine-tune with this teacher")] = None,
    epochs: Annotated[int, typer.Option(help="fine-tuning epochs")] = 20,
    lr: Annotated[float, typer.Option(help="fine-tuning peak learning rate")] = 1e-3,
) -> None:
    """Remove channels from a trained ResNet by importance, fine-tune, and score it."""
    from trainer.runs import prune_run

    lines = guarded(
        prune_run,
        checkpoint,
        ratio,
        out,
        data_dir,
        cache_dir,
        teacher,
        {"epochs": epochs, "lr": lr},
    )
    for line in lines:
        console.print(line, highlight=False)


@app.command("export")
def export_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="trained model.pt to export")],
    out: Annotated[Path, typer.Option(help="ONNX file to write")] = Path("model.onnx"),
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
) -> None:
    """Export a checkpoint to ONNX with its contract; parity-checked on real validation inputs."""
    from trainer.export import export_checkpoint

    with working(f"exporting {checkpoint} and checking parity"):
        r = guarded(export_checkpoint, checkpoint, out, data_dir, cache_dir)
    console.print(
        f"wrote {r['onnx']} ({r['bytes'] / 1024:.1f} KB); torch vs onnxruntime max "
        f"|diff| {r['parity_max_abs']:.1e} on {r['parity_inputs']} real inputs"
    )


@app.command("quantize")
def quantize_cmd(
    model: Annotated[Path, typer.Argument(help="exported fp32 ONNX file")],
    profile: Profile = DEFAULT_PROFILE,
    out: Annotated[
        Path | None, typer.Option(help="int8 ONNX file (default MODEL-int8.onnx)")
    ] = None,
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
) -> None:
    """int8 static quantization of an exported model, gated on the test split by the profile."""
    from trainer.quantize import quantize_exported

    target = out or model.with_name(model.stem + "-int8.onnx")
    with working(f"quantizing {model} under the {profile} gate"):
        r = guarded(quantize_exported, model, target, profile, data_dir, cache_dir)
    console.print(
        f"wrote {target} ({r['int8_bytes'] / 1024:.1f} KB, fp32 "
        f"{r['fp32_bytes'] / 1024:.1f} KB); calibration {r['calibration']}; test drop "
        f"{r['drop']:+.4f} (limit {r['limit']})"
    )


@app.command("companion")
def companion_cmd(
    bundle: Annotated[Path, typer.Argument(help="a beat bundle folder")],
    out: Annotated[Path, typer.Option(help="the companion bundle folder to write")],
) -> None:
    """Copy a beat bundle as a companion that reads only the beats whose QRS points down (an
    inverted lead) beside a beat model of the same contract; the weights are unchanged."""
    from trainer.companion import make_companion

    r = guarded(make_companion, bundle, out, f"trainer companion {bundle} --out {out}")
    console.print(f"wrote {r['out']} (model {r['bytes'] / 1024:.1f} KB, sha256 {r['sha256'][:12]})")


@app.command("ensemble")
def ensemble_cmd(
    checkpoints: Annotated[
        list[Path], typer.Argument(help="two or more trained students of one configuration")
    ],
    out: Annotated[Path, typer.Option(help="the ensemble checkpoint to write")],
) -> None:
    """Students of one configuration and test split (different seeds) as one checkpoint, the
    mean of their logits: `trainer compress --student OUT` quantizes and ships it as one model."""
    from trainer.ensemble import save_ensemble

    ckpt = guarded(save_ensemble, checkpoints, out)
    score = ckpt["metrics"]["val_score"]
    console.print(
        f"wrote {out}: {len(checkpoints)} members, {ckpt['size']['params']:,} parameters"
        + (f", mean validation score {score:.4f}" if score is not None else "")
    )


@app.command("evaluate")
def evaluate_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="trained model.pt to score")],
    data_dir: DataDir = None,
    out: Annotated[
        Path | None,
        typer.Option(help=f"folder for {EVALUATE_METRICS} (default: beside the checkpoint)"),
    ] = None,
    cache_dir: CacheDir = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="records/beats, as train's --limit (default: none, whatever training used)"
        ),
    ] = None,
) -> None:
    """Score a checkpoint on the test split: its own JSON metrics and ROC plot, beside (never
    over) the training run's metrics.json."""
    from trainer.runs import describe_metrics

    where = out or checkpoint.parent
    with working(f"scoring {checkpoint} on the test split"):
        result = guarded(evaluate_to_own_files, checkpoint, data_dir, where, cache_dir, limit)
    for line in describe_metrics(result):
        console.print(line, highlight=False)
    used = f"--limit {limit}" if limit else "no limit (whole splits)"
    console.print(
        f"wrote {where / evaluate_metrics_name(limit)}; scored with {used}", highlight=False
    )


@app.command()
def compress(
    profile: Profile = DEFAULT_PROFILE,
    task: Task = "arrhythmia",
    out: Annotated[Path | None, typer.Option(help="bundle folder")] = None,
    teacher: Annotated[
        Path | None, typer.Option(help="trained teacher checkpoint (else one is trained)")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="seed CNN checkpoint to score for the report table")
    ] = None,
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
    seed: Annotated[int, typer.Option(help="seed of the teacher and the chain's draws")] = 0,
    student_seeds: Annotated[
        list[int] | None,
        typer.Option(
            "--student-seed",
            help="train the students with each of these seeds (repeat); best on validation goes on",
        ),
    ] = None,
    prune_ratio: Annotated[
        float, typer.Option(help="share of the student's inner channels to prune; 0: none")
    ] = 0.5,
    ablation: Annotated[
        bool, typer.Option(help="also train the student without the teacher")
    ] = True,
    epochs: Annotated[int | None, typer.Option(help="training epochs (preset default)")] = None,
    finetune_epochs: Annotated[
        int | None, typer.Option(help="fine-tuning epochs after pruning (preset default)")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads")] = None,
    limit: Annotated[int | None, typer.Option(help="records/beats per split, quick runs")] = None,
    leads: Annotated[str | None, typer.Option(help="diagnostic leads: all, II, ...")] = None,
    latency_runs: Annotated[
        int, typer.Option(help="timed onnxruntime calls per model for the latency figures")
    ] = 300,
    noise_prob: Annotated[
        float,
        typer.Option(help="arrhythmia: share of student training beats with recorded noise added"),
    ] = 0.0,
    noise_dir: Annotated[
        Path | None, typer.Option(help="nstdb folder for --noise-prob (else $ECG_EDGE_NSTDB)")
    ] = None,
    noise_snr_min_db: Annotated[
        float | None,
        typer.Option("--noise-snr-min", help="lowest SNR (dB) of the added noise (default 0)"),
    ] = None,
    harden_noise_prob: Annotated[
        float,
        typer.Option(
            help="arrhythmia: fine-tune the chosen student with recorded noise on this share of "
            "beats, kept if clean + noisy validation improves (0: no hardening)"
        ),
    ] = 0.0,
    harden_epochs: Annotated[int, typer.Option(help="epochs of noise hardening")] = 10,
    polarity_flip_prob: Annotated[
        float,
        typer.Option(help="arrhythmia: share of training beats read on the inverted lead"),
    ] = 0.0,
    student: Annotated[
        Path | None,
        typer.Option(help="a trained student checkpoint to go on with (no students trained)"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help=escape("TOML file with a [train] table for every model the chain trains")
        ),
    ] = None,
) -> None:
    """Teacher -> distilled, pruned student -> int8 ONNX under the profile's gate -> bundle."""
    options = dict(locals())  # the parameters, named as CompressOptions names them
    guarded(compress_from_options, options, say=lambda line: console.print(line, highlight=False))


@app.command()
def report(bundle: Annotated[Path, typer.Argument(help="bundle folder")]) -> None:
    """Regenerate a bundle's report.md and plots from its manifest.json."""
    from trainer.report import write_report

    with working(f"writing the report of {bundle}"):
        written = guarded(write_report, bundle)
    console.print(f"wrote {written}")
