"""`edgekd` command line: parse arguments, call the library, print errors as one line."""

from __future__ import annotations

import functools
import sys

import click
import yaml

from edgekd.errors import EdgeKDError


def user_errors(command):
    """Turn `EdgeKDError` into `error: <one line>` on stderr and its exit code, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EdgeKDError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _parse_overrides(pairs: tuple[str, ...]) -> dict:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        overrides[key] = yaml.safe_load(value)
    return overrides


@click.group()
@click.version_option(package_name="edgekd")
def main():
    """Distil, compress, export and benchmark edge models."""


@main.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config field, e.g. --set data.train_subset=2000 (repeatable).")
@click.option("--artifacts", default=None, help="Artifacts directory (overrides artifacts_dir).")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine (started with torchrun); cache and distill split their work.")
@user_errors
def run(pipeline, overrides, artifacts, nproc):
    """Run a pipeline YAML end to end, reusing every artifact whose inputs are unchanged."""
    from edgekd.config import load_config
    from edgekd.distributed import current_world, launch_command
    from edgekd.pipeline import run as run_pipeline
    from edgekd.summary import print_summary

    values = _parse_overrides(overrides)
    if artifacts:
        values["artifacts_dir"] = artifacts
    config = load_config(pipeline, values)  # a bad config fails here, before any process starts
    if nproc > 1 and not current_world().distributed:
        import subprocess

        argv = ["run", pipeline, *(f"--set={o}" for o in overrides)] + ([f"--artifacts={artifacts}"] if artifacts else [])
        sys.exit(subprocess.call(launch_command(nproc, argv)))
    result = run_pipeline(config)
    if not current_world().is_main:
        return
    print_summary(result)
    if result.partial_failures:
        click.echo(f"partial failure in: {', '.join(result.partial_failures)} (see the report)", err=True)
        sys.exit(3)


@main.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
@user_errors
def validate(pipeline):
    """Check a pipeline YAML without running it."""
    from edgekd.config import load_config

    config = load_config(pipeline)
    click.echo(f"{pipeline}: ok ({len(config.stages)} stages: "
               f"{', '.join(s.stage_name for s in config.stages)})")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--arch", default=None, help="Model spec of .safetensors checkpoints: fmnist_student, timm:resnet18, "
              "or a YAML mapping such as '{name: timm:resnet18, kwargs: {num_classes: 10}}'.")
@click.option("--provider", default="CPUExecutionProvider", show_default=True,
              help="ONNX Runtime execution provider, exactly as ORT names it; one it cannot load is an error row.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--batch-size", "batch_sizes", type=click.IntRange(min=1), multiple=True, default=[1],
              show_default=True, help="Batch size of the timed calls; repeat for a row per batch size.")
@click.option("--min-runs", type=click.IntRange(min=200), default=200, show_default=True)
@click.option("--min-seconds", type=click.FloatRange(min=0.0), default=1.0, show_default=True)
@click.option("--emulate", "emulated_cpus", multiple=True, type=click.Choice(["cortex-a53", "cortex-a76"]),
              help="Also count instructions per inference under QEMU aarch64 (make arm-setup). Repeatable.")
@click.option("--data-dir", default=None,
              help="Folder with the Fashion-MNIST IDX files: every file runs on its test set. Without it, "
                   "files whose input fits the installed test set use it, the others get random inputs.")
@click.option("--shape", "shapes", multiple=True, metavar="NAME=DIMS",
              help="Size of an input's dynamic dims for random inputs, e.g. --shape input_ids=1x128; a dynamic "
                   "first (batch) dim follows --batch-size. Repeatable.")
@click.option("--out", default="bench-report", show_default=True, help="Folder for bench.json and the report.")
@user_errors
def bench(files, arch, provider, threads, batch_sizes, min_runs, min_seconds, emulated_cpus, data_dir, shapes, out):
    """Benchmark model files (.onnx, .tflite, .safetensors) on the same inputs.

    Files the test images fit are scored on them; any other .onnx/.tflite is timed on random inputs
    built from its own signature (accuracy left empty, parity between files of one signature).
    """
    if arch and arch.lstrip().startswith("{"):
        arch = yaml.safe_load(arch)  # a spec mapping (safe_load: data only, never code)
    from pathlib import Path

    from edgekd.bench.files import bench_files, write_bench_report
    from edgekd.bench.random_inputs import parse_shape_options
    from edgekd.context import DataSource
    from edgekd.quiet import quiet_third_party
    from edgekd.report.render import print_report_table
    from edgekd.stages.bench import BenchConfig

    quiet_third_party()
    config = BenchConfig(threads=threads, batch_sizes=list(batch_sizes), min_runs=min_runs,
                         min_seconds=min_seconds, emulated_cpus=list(emulated_cpus))
    report = bench_files([Path(f) for f in files], config, DataSource({"type": "idx", "data_dir": data_dir}), arch,
                         provider, shapes=parse_shape_options(shapes), data_required=data_dir is not None,
                         say=lambda line: click.echo(line, err=True))
    write_bench_report(report, Path(out))
    print_report_table(Path(out))  # sized for the terminal, or COLUMNS / 100 columns in logs
    click.echo(f"wrote {out}/report.html, report.md, report.json, bench.json")
    if any(row["status"] == "failed" for row in report["rows"]):
        sys.exit(3)


@main.command()
@click.argument("report_json", type=click.Path(dir_okay=False, exists=True))
@click.option("--out", default=None, help="Folder for report.md and report.html (default: next to the JSON).")
@user_errors
def report(report_json, out):
    """Render report.md and report.html from a report.json (a pipeline's, or `edgekd bench`'s)."""
    import json
    from pathlib import Path

    from edgekd.errors import ConfigError
    from edgekd.report.render import write_rendered

    try:
        data = json.loads(Path(report_json).read_text())
        rows = data["rows"]
    except (ValueError, KeyError):
        raise ConfigError(f"{report_json}: not an edgekd report.json") from None
    folder = Path(out) if out else Path(report_json).parent
    folder.mkdir(parents=True, exist_ok=True)
    write_rendered(data, folder)
    click.echo(f"wrote {folder}/report.md and {folder}/report.html ({len(rows)} rows)")


@main.command()
@click.argument("budget", type=click.Path(dir_okay=False))
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="report.json to check.")
@click.option("--pipeline", "pipeline_path", type=click.Path(dir_okay=False),
              help="Run this pipeline (reusing artifacts) and check its report.")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False),
              help="Baseline report.json (default: `baseline:` in the budget file).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--update-baseline", is_flag=True, help="Make this report the new baseline, then check.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="With --pipeline: override a config field of the pipeline it runs, as `edgekd run --set` does.")
@user_errors
def check(budget, report_path, pipeline_path, baseline_path, junit_path, update_baseline, overrides):
    """Gate a report on size, accuracy, latency and parity budgets.

    Exit 0: every budget passes; 1: a budget failed; 2: bad input (budget, report or baseline file).
    """
    from edgekd.gate.gate import run_gate

    outcome = run_gate(budget, report_path, pipeline_path, baseline_path, junit_path, update_baseline,
                       overrides=_parse_overrides(overrides))
    sys.exit(outcome.exit_code)


DATA_SPEC_HELP = ("Data: a YAML mapping like '{type: arrays, path: d.npz, layout: NHW}', or idx, idx:DIR, "
                  "arrays:PATH.npz:LAYOUT[:DIVIDE_BY], image_folder:ROOT:HxW[:CHANNELS], csv:PATH:LABEL.")


@main.command()
@click.option("--teacher", prompt="Teacher model (e.g. file:models.py:teacher, timm:resnet18, fmnist_teacher)",
              help="Teacher model spec, or a YAML mapping '{name: ..., checkpoint: ...}'.")
@click.option("--student", prompt="Student model (e.g. file:models.py:student, timm:mobilenetv3_small_050)",
              help="Student model spec (trained here by distillation).")
@click.option("--data", "data_spec", prompt="Data (e.g. arrays:data.npz:NHWC, image_folder:photos:64x64:3, idx)",
              help=DATA_SPEC_HELP)
@click.option("--teacher-checkpoint", default=None, metavar="PATH",
              help="Trained teacher weights (.safetensors, .pt); without one the pipeline trains the teacher.")
@click.option("--out", default="my_pipeline.yaml", show_default=True, help="Pipeline YAML to write.")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@user_errors
def init(teacher, student, data_spec, teacher_checkpoint, out, force):
    """Write a commented pipeline YAML for your own teacher, student and data, and validate it."""
    from edgekd.init_pipeline import write_pipeline

    choices, config = write_pipeline(out, teacher, student, data_spec, teacher_checkpoint, force)
    click.echo(f"wrote {out} ({len(config.stages)} stages: {', '.join(s.stage_name for s in config.stages)})")
    if choices.train_samples:
        click.echo(f"training split: {choices.train_samples} samples; epochs and batch size chosen for that")
    click.echo(f"run it:  edgekd run {out}")


@main.command("export")
@click.argument("model")
@click.option("--formats", default=None, metavar="LIST",
              help="Comma-separated: onnx_fp32, onnx_int8, tflite_fp32, tflite_fp16, tflite_int8 "
                   "(default: all but tflite_fp16).")
@click.option("--data", "data_spec", default="idx", show_default=True,
              help=DATA_SPEC_HELP + " Its test split checks parity; its training split calibrates int8.")
@click.option("--checkpoint", default=None, metavar="PATH", help="Weights of MODEL (.safetensors, .pt).")
@click.option("--out", default="export", show_default=True, help="Folder for the files and export.json.")
@user_errors
def export(model, formats, data_spec, checkpoint, out):
    """Export one MODEL (a model spec, e.g. fmnist_teacher or file:models.py:build) to ONNX and TFLite,
    each file checked for parity against PyTorch. Exit 3 when any format failed."""
    from pathlib import Path

    from edgekd.context import DataSource
    from edgekd.data.cli_spec import parse_data_spec, preflight
    from edgekd.export.single_model import DEFAULT_FORMATS, export_model, model_spec_for_export, parse_formats
    from edgekd.export.single_model import table_lines
    from edgekd.quiet import quiet_third_party

    chosen = parse_formats(formats) if formats else list(DEFAULT_FORMATS)
    spec = model_spec_for_export(model, checkpoint)
    _, data_config = parse_data_spec(data_spec)
    preflight(data_config)  # a missing file is one line before anything is built
    quiet_third_party()
    say = functools.partial(click.echo, err=True)
    if not spec.checkpoint:
        say(f"note: {spec.label} has no checkpoint: exporting randomly initialised weights (pass --checkpoint)")
    result = export_model(spec, DataSource(data_config), chosen, Path(out), say=say)
    click.echo(f"{result['model']}: PyTorch fp32 test accuracy {100 * result['pytorch_accuracy']:.2f} % "
               f"({result['test_samples']} test samples)")
    click.echo("parity: each file against the PyTorch model it came from (int8: the fake-quantised one)")
    for line in table_lines(result):
        click.echo(line)
    written = sum(r["status"] == "ok" for r in result["rows"])
    click.echo(f"wrote {written} file{'' if written == 1 else 's'} and export.json to {out}")
    if any(row["status"] != "ok" for row in result["rows"]):
        sys.exit(3)


if __name__ == "__main__":
    main()
