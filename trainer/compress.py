"""`trainer compress`: teacher -> students with/without KD -> pruning -> export -> int8 -> bundle.

Every stage is scored on the same held-out test split and recorded in the bundle's manifest, so the
report compares the steps the seed project took (and lost accuracy at) on equal terms. The shipped
model is the distilled student, pruned when pruning held its validation score, quantized to int8
under the profile's accuracy gate. The gate's verdict on each int8 model is recorded with its
numbers and the model's name: a refused teacher int8 (built for the table only) is recorded and
the chain goes on; a refused student int8 ends the run without a bundle, its stage records kept
in stages/stages.json. Latencies of the torch teacher, the fp32 ONNX twin and the int8
model are measured in one run, single-threaded and with the profile's threads, so ratios hold.

`compress` is the chain's stages in order; each stage is a function of the shared `Chain` that
returns what the next one starts from (a `Chosen` student, the ONNX pair). Stage records live in
`trainer.stage_records`, the int8 gate in `trainer.int8_gate`, latency in `trainer.latency` and
the manifest in `trainer.bundle_manifest`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from torch import nn

from edge_monitor.bundle import MANIFEST_FILE, MODEL_FILE
from edge_monitor.contract import read_contract
from edge_monitor.errors import CheckFailedError
from trainer.bundle_manifest import bundle_manifest
from trainer.chain import Chain, CompressOptions, OnnxPair, open_chain, overrides
from trainer.checkpoint import load_checkpoint
from trainer.config import config_from
from trainer.distill import check_teacher
from trainer.export import export_checkpoint, real_inputs
from trainer.int8_gate import int8_gate, ungated
from trainer.latency import measure_latencies
from trainer.models import model_size
from trainer.onnx_compact import compact_copy
from trainer.onnx_eval import onnx_predict
from trainer.prune import prune_inner_channels
from trainer.quantize import quantize_model
from trainer.report import seed_line, write_report
from trainer.stage_records import (
    Chosen,
    ablation_summary,
    noisy_validation_score,
    seed_summary,
    selection_score,
    summary,
)
from trainer.train import training_noise_for, training_noise_names


def compress(opts: CompressOptions, say: Callable[[str], None] = print) -> dict:
    t_start = time.perf_counter()
    chain = open_chain(opts, say)
    teacher = teacher_stage(chain)
    teacher_pair = load_checkpoint(teacher)
    chosen = student_stage(chain, teacher_pair)
    chosen = hardening_stage(chain, chosen)
    chosen = pruning_stage(chain, chosen, teacher_pair)
    onnx = int8_stage(chain, teacher, chosen)
    return ship(chain, teacher, chosen, onnx, t_start)


def teacher_stage(chain: Chain) -> Path:
    """1. The teacher (trained here unless given), and the seed's baseline CNN for the table."""
    opts = chain.opts
    teacher = opts.teacher
    if teacher is None:
        teacher = chain.stages_dir / "teacher" / "model.pt"
        chain.say("training the teacher")
        cfg = config_from(chain.recipe, task=opts.task, model="teacher", **overrides(opts))
        chain.fit(cfg, teacher)
    else:  # before it is scored: a teacher of other inputs would crash in torch
        given = load_checkpoint(teacher)[1]
        check_teacher(given, chain.data.task, chain.data.classes, chain.data.preprocessing)
    chain.score("teacher", teacher, "torch fp32", "teacher")
    if opts.baseline is not None:
        chain.score("baseline", opts.baseline, "torch fp32", "seed-style CNN baseline")
    return teacher


def student_stage(chain: Chain, teacher_pair: tuple[nn.Module, dict]) -> Chosen:
    """2. Students per seed, without the teacher (ablation) and with it, same seed and budget;
    distillation is a tool, not a rule: the student with the best validation score goes on. A
    given student (--student) goes on instead, once it answers this task's question."""
    opts, data, say = chain.opts, chain.data, chain.say
    students: dict[str, Path] = {}
    if opts.student is not None:
        given = load_checkpoint(opts.student)[1]
        check_teacher(given, data.task, data.classes, data.preprocessing, role="student")
        students["student-given"] = opts.student
        chain.score("student-given", opts.student, "torch fp32", f"student, given: {opts.student}")
    for seed in () if opts.student is not None else opts.student_seeds or (opts.seed,):
        cfg = replace(chain.student_cfg, seed=seed)
        variants = [("plain", None)] if opts.ablation else []
        for variant, pair in [*variants, ("kd", teacher_pair)]:
            name = f"student-{variant}-s{seed}"
            say(f"training {name}" + (" from the teacher" if pair else " without the teacher"))
            students[name] = chain.stages_dir / name / "model.pt"
            chain.fit(cfg, students[name], teacher=pair, noise_tracks=chain.noise_tracks)
            label = "student, distilled" if pair else "student, labels only"
            chain.score(name, students[name], "torch fp32", f"{label}, seed {seed}")
            if chain.noise_tracks:
                say(f"{name}: validation with noise {chain.stages[name]['noisy_val_score']:.4f}")
    base = max(students, key=lambda k: selection_score(chain.stages[k]))
    chain.stages[base]["selected"] = True
    chain.stages["_ablation"] = ablation_summary(chain.stages, chain.kind)
    chain.stages["_seeds"] = seed_summary(chain.stages)
    for variant, row in chain.stages["_seeds"].items():
        say(f"student-{variant} over seeds {row['seeds']}: " + seed_line(row))
    say(f"{base} goes on (best validation score)")
    return Chosen(students[base], base, chain.student_cfg)


def hardening_stage(chain: Chain, base: Chosen) -> Chosen:
    """3. Noise hardening, where the kind trains with recorded noise: the chosen student
    fine-tuned on beats with recorded noise, BatchNorm statistics frozen, its answers on the
    clean beats held by distillation from its own frozen copy (without that anchor the DS2 V
    sensitivity fell from 0.89 to 0.74 although validation did not show it); epochs scored on
    clean and noisy validation together, kept only when that mean beats the student's own."""
    opts, data, stages = chain.opts, chain.data, chain.stages
    if not (opts.harden_noise_prob > 0 and chain.kind.noise_training):
        return base
    model, base_ckpt = load_checkpoint(base.checkpoint)
    harden_cfg = replace(
        chain.student_cfg,
        seed=base_ckpt["train_config"]["seed"],
        noise_prob=opts.harden_noise_prob,
        epochs=opts.harden_epochs,
        lr=chain.student_cfg.lr / 3,
        freeze_batchnorm=True,
        anchor_weight=opts.harden_anchor_weight,
    )
    tracks = chain.noise_tracks or training_noise_for(harden_cfg, data)
    if "noisy_val_score" not in stages[base.stage]:
        stages[base.stage]["noisy_val_score"] = noisy_validation_score(
            base.checkpoint, data, tracks
        )
    hardened = chain.stages_dir / "student-hardened" / "model.pt"
    chain.say(
        f"hardening {base.stage}: fine-tuning with recorded noise "
        f"({', '.join(training_noise_names(data))}) "
        f"on {opts.harden_noise_prob:.0%} of the beats"
    )
    lineage = {"hardened_from": str(base.checkpoint), "noise_prob": opts.harden_noise_prob}
    chain.fit(harden_cfg, hardened, init=model, noise_tracks=tracks, lineage=lineage)
    chain.score("student-hardened", hardened, "torch fp32", f"{base.stage}, noise-hardened")
    before = selection_score(stages[base.stage])
    after = selection_score(stages["student-hardened"])
    keep = after > before
    stages["student-hardened"]["hardening"] = {
        "from": base.stage,
        "noise_prob": opts.harden_noise_prob,
        "noises": training_noise_names(data),
        "selection_before": before,
        "selection_after": after,
        "kept": keep,
    }
    chain.say(
        f"hardening {'kept' if keep else 'not kept'}: mean of clean and noisy validation "
        f"{before:.4f} -> {after:.4f}"
    )
    return Chosen(hardened, "student-hardened", harden_cfg) if keep else base


def pruning_stage(chain: Chain, chosen: Chosen, teacher_pair: tuple[nn.Module, dict]) -> Chosen:
    """4. Structured pruning of the chosen student, fine-tuned with the teacher; kept when the
    validation score falls by no more than the kind's tolerance."""
    opts, stages = chain.opts, chain.stages
    if opts.prune_ratio <= 0:
        return chosen
    model, _ = load_checkpoint(chosen.checkpoint)
    pruned_model = prune_inner_channels(model, opts.prune_ratio)
    before, after = model_size(model), model_size(pruned_model)
    pruned = chain.stages_dir / "student-pruned" / "model.pt"
    # a hardened student's noise goes on into the fine-tuning; its anchor and frozen
    # statistics do not: they would hold the pruned network to its own damaged state
    ft_cfg = replace(
        chosen.cfg,
        epochs=opts.finetune_epochs or max(1, chain.student_cfg.epochs // 2),
        lr=chain.student_cfg.lr / 3,
        anchor_weight=0.0,
        freeze_batchnorm=False,
    )
    chain.say(f"pruning {opts.prune_ratio:.0%} of the student's inner channels, fine-tuning")
    lineage = {
        "pruned_from": str(chosen.checkpoint),
        "ratio": opts.prune_ratio,
        "before": {"params": before.params, "macs": before.macs},
        "after": {"params": after.params, "macs": after.macs},
    }
    chain.fit(ft_cfg, pruned, teacher=teacher_pair, init=pruned_model, lineage=lineage)
    chain.score("student-pruned", pruned, "torch fp32", f"{chosen.stage} pruned")
    drop = selection_score(stages[chosen.stage]) - selection_score(stages["student-pruned"])
    tolerance = chain.kind.prune_tolerance
    keep = drop <= tolerance
    stages["student-pruned"]["pruning"] = {
        "ratio": opts.prune_ratio,
        "params_before": before.params,
        "params_after": after.params,
        "macs_before": before.macs,
        "macs_after": after.macs,
        "macs_removed": 1 - after.macs / before.macs,
        "val_drop": drop,
        "kept": keep,
        "tolerance": tolerance,
    }
    chain.say(
        f"pruning {'kept' if keep else 'not kept'}: validation score "
        f"{'-' if drop >= 0 else '+'}{abs(drop):.4f} (tolerance {tolerance})"
    )
    return Chosen(pruned, "student-pruned", ft_cfg) if keep else chosen


def int8_stage(chain: Chain, teacher: Path, chosen: Chosen) -> OnnxPair:
    """5. Export and int8 of the teacher (the seed's quantization step) and of the chosen
    student. The teacher's int8 copy is for the table only: a refusal is recorded and the chain
    goes on; the student's refusal ends the run, its stage records written."""
    chain.say("exporting and quantizing the teacher")
    onnx_stages(chain, "teacher", teacher, "teacher")
    gate = chain.stages["teacher-int8"]["gate"]
    if not gate["ok"]:
        chain.say(f"{gate['message']}; recorded, going on (table only)")
    chain.say("exporting and quantizing the student")
    final = onnx_stages(chain, "final", chosen.checkpoint, chosen.stage)
    gate = chain.stages["final-int8"]["gate"]
    if not gate["ok"]:
        record = chain.stages_dir / "stages.json"
        record.write_text(json.dumps(chain.stages, indent=2, default=str))
        raise CheckFailedError(f"{gate['message']}; no bundle written, stage records in {record}")
    return final


def onnx_stages(chain: Chain, name: str, ckpt: Path, base_stage: str) -> OnnxPair:
    """Export `ckpt` and quantize it; record both as stages `{name}-fp32` and `{name}-int8`,
    the int8 one with the gate's verdict (`gate`); the caller decides what a refusal means."""
    data, profile, seed = chain.data, chain.profile, chain.opts.seed
    folder = chain.stages_dir / name
    fp32, int8 = folder / "model-fp32.onnx", folder / "model-int8.onnx"
    model = "teacher int8" if name == "teacher" else "student int8"
    exported = export_checkpoint(ckpt, fp32, chain.opts.data_dir, data=data)
    quant = quantize_model(fp32, int8, data, ungated(profile, data.task), seed=seed)
    quant["gate"] = int8_gate(model, base_stage, quant, fp32, int8, data, profile, seed)
    quant["limit"] = quant["gate"]["limit"]
    (folder / "quant.json").write_text(json.dumps(quant, indent=2, default=str))
    probs = {"fp32": onnx_predict(fp32, data.test), "int8": onnx_predict(int8, data.test)}
    base = chain.stages[base_stage]
    for precision, path in (("fp32", fp32), ("int8", int8)):
        entry = {
            "kind": f"onnx {precision}",
            "note": f"{name} {precision}",
            "file": str(path),
            "bytes": path.stat().st_size,
            "params": base["params"],
            "macs": base["macs"],
            "test": chain.kind.onnx_test(data.test.y, probs[precision], data.classes),
        }
        if precision == "fp32":
            entry["parity_max_abs"] = exported["parity_max_abs"]
        else:
            entry.update({k: quant[k] for k in ("calibration", "drop", "limit", "gate")})
            if not quant["gate"]["ok"]:
                entry["kind"] += " (refused by the gate)"
        entry["summary"] = summary(chain.kind, entry) + f"; {entry['bytes'] / 1024:.1f} KB"
        if precision == "int8":
            entry["summary"] += "; gate " + ("passed" if quant["gate"]["ok"] else "REFUSED")
        chain.stages[f"{name}-{precision}"] = entry
        chain.say(f"{name}-{precision}: {entry['summary']}")
    np.savez(folder / "onnx_test_probs.npz", **probs, y=data.test.y, groups=data.test.groups)
    return OnnxPair(fp32, int8)


def ship(chain: Chain, teacher: Path, chosen: Chosen, onnx: OnnxPair, t_start: float) -> dict:
    """6. The bundle: model.onnx, same-run latency, manifest.json, report.md; a missed budget
    is an error once the bundle is written."""
    opts, profile, out = chain.opts, chain.profile, chain.opts.out
    feeds = real_inputs(chain.data.test, read_contract(onnx.int8).inputs, 64, seed=opts.seed)
    short = compact_copy(onnx.int8, out / MODEL_FILE, feeds)  # short names: a third of the file
    final = chain.stages["final-int8"]  # the shipped file's size, not the stage file's
    final["stage_bytes"], final["bytes"] = final["bytes"], (out / MODEL_FILE).stat().st_size
    final["short_names"] = short
    if short:
        final["summary"] += f"; model.onnx {final['bytes'] / 1024:.1f} KB with short names"
    chain.say(
        f"model.onnx: {final['bytes'] / 1024:.1f} KB"
        + (" with short names" if short else " as quantized (short names not proven equal)")
    )
    chain.say("measuring latency")
    latency = measure_latencies(
        teacher, onnx.fp32, out / MODEL_FILE, chain.data, profile, opts.latency_runs, opts.seed
    )
    manifest = bundle_manifest(
        out,
        chain.data,
        profile,
        chain.stages,
        chosen=chosen.checkpoint,
        latency=latency,
        command=opts.command,
        seed=opts.seed,
        seconds=time.perf_counter() - t_start,
    )
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    write_report(out)
    failed = [k for k, c in manifest["checks"].items() if not c["ok"]]
    chain.say(f"wrote {out} in {time.perf_counter() - t_start:.0f} s")
    if failed:
        raise CheckFailedError(
            f"bundle {out} misses the {profile.name} budget: "
            + "; ".join(f"{k} {manifest['checks'][k]['detail']}" for k in failed)
        )
    return manifest
