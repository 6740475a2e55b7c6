"""Add (or replace) a pretrained checkpoint in src/pixelar/pretrained/, with its manifest entry.

    .venv/bin/python benchmarks/add_pretrained.py RUN_OR_CHECKPOINT_DIR --name NAME \\
        --dataset natural [--split test] [--data-option KEY=VALUE] [--metric bits_per_dim|nats_per_image] \\
        --training-data "what it was trained on" --train-command "the command that trained it" \\
        [--wall-seconds S] [--machine TEXT] [--description TEXT] [--with-training-state] [--replace]

It copies the checkpoint's files (config.json, model.safetensors, ema.safetensors; and
training_state.pt with --with-training-state, so that the run can be continued on another machine)
into pretrained/NAME/, records every file's sha256, then MEASURES the figure by running the very
command it records, ``pixelar eval --checkpoint pretrained:NAME --dataset ... --json``, in a
subprocess: the manifest's figure is what that command prints on this machine. A file over
--max-mb (default 8) is refused: pretrained checkpoints ship inside the wheel.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pixelar import checkpoint as ckpt
from pixelar import pretrained

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model  # benchmarks/machine.py

SHIPPED = ("config.json", "model.safetensors", "ema.safetensors")


def run_record(given: Path, checkpoint: Path) -> dict:
    """The run.json of the run that wrote ``checkpoint`` (given as the run directory, or the
    checkpoint inside RUN/checkpoints/), {} when there is none: its preset and --set overrides.
    A table4_binarized_mnist.py run has no run.json; its table4.json names the preset ("model/preset")
    and, where it records them, the --set overrides."""
    for folder in (given, checkpoint.parent.parent):
        if (folder / "run.json").is_file():
            return json.loads((folder / "run.json").read_text())
        if (folder / "table4.json").is_file():
            ledger = json.loads((folder / "table4.json").read_text())
            spec = ledger.get("model", "")
            record = {"preset": spec.partition("/")[2]} if "/" in spec else {}
            if "overrides" in ledger:
                record["overrides"] = ledger["overrides"]
            return record
    return {}


def write_manifest(root: Path, entries: dict) -> None:
    path = root / pretrained.MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"format": pretrained.FORMAT, "entries": entries}, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def figure_command(args: argparse.Namespace) -> list[str]:
    cmd = ["pixelar", "eval", "--checkpoint", f"pretrained:{args.name}", "--dataset", args.dataset,
           "--split", args.split, "--weights", args.weights]
    for item in args.data_option:
        cmd += ["--data-option", item]
    if args.max_images:
        cmd += ["--max-images", str(args.max_images)]
    return cmd


def measure(cmd: list[str], root: Path) -> dict:
    """Run ``cmd --json`` (pixelar from this interpreter; ``root`` as the pretrained folder)."""
    env = dict(os.environ)
    if root != pretrained.ROOT:   # tests: a manifest outside the package
        env["PIXELAR_PRETRAINED_ROOT_FOR_TESTS"] = str(root)
    code = ("import os, sys; from pathlib import Path; import pixelar.pretrained as p; "
            "r = os.environ.get('PIXELAR_PRETRAINED_ROOT_FOR_TESTS'); p.ROOT = Path(r) if r else p.ROOT; "
            "from pixelar.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, *cmd[1:], "--json"], check=False, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"add_pretrained: error: {shlex.join(cmd)} failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a run directory (its newest checkpoint) or a checkpoint directory")
    p.add_argument("--name", required=True, help="lower-case, digits and '-', e.g. pixelcnn-binarized-mnist")
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--max-images", type=int, default=0)
    p.add_argument("--metric", choices=("bits_per_dim", "nats_per_image"), default="bits_per_dim")
    p.add_argument("--weights", choices=("auto", "ema", "raw"), default="auto")
    p.add_argument("--training-data", required=True)
    p.add_argument("--train-command", required=True)
    p.add_argument("--wall-seconds", type=float, required=True, help="training wall time")
    p.add_argument("--machine", default=cpu_model())
    p.add_argument("--description", default="")
    p.add_argument("--preset", help="the preset it was trained from (default: from the run, else unknown)")
    p.add_argument("--overrides", help="JSON of the --set overrides it was trained with (default: from the run)")
    p.add_argument("--with-training-state", action="store_true", help="also ship training_state.pt (resumable)")
    p.add_argument("--replace", action="store_true", help="replace an existing entry of that name")
    p.add_argument("--max-mb", type=float, default=8.0)
    p.add_argument("--root", type=Path, default=pretrained.ROOT, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if not args.name or not all(c.islower() or c.isdigit() or c == "-" for c in args.name):
        raise SystemExit(f"add_pretrained: error: --name {args.name!r}: use lower-case letters, digits and '-'")
    source = ckpt.resolve_checkpoint(args.checkpoint)
    meta = ckpt.read_meta(source)
    root: Path = args.root
    entries = pretrained.manifest(root)
    folder = root / args.name
    if (args.name in entries or folder.exists()) and not args.replace:
        raise SystemExit(f"add_pretrained: error: pretrained '{args.name}' exists; pass --replace to replace it")
    files = [f for f in SHIPPED if (source / f).exists()] + (["training_state.pt"] if args.with_training_state else [])
    for f in files:
        size = (source / f).stat().st_size / 2 ** 20
        if size > args.max_mb:
            raise SystemExit(f"add_pretrained: error: {source / f} is {size:.1f} MB, over --max-mb {args.max_mb:g}")
    run = run_record(Path(args.checkpoint), source)
    old = dict(entries)
    staging = Path(tempfile.mkdtemp(prefix=f".{args.name}.", dir=root))
    for f in files:
        shutil.copy2(source / f, staging / f)
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    cmd = figure_command(args)
    entries[args.name] = {
        "model": meta["model"], "preset": args.preset or run.get("preset"),
        "overrides": json.loads(args.overrides) if args.overrides is not None else run.get("overrides", {}),
        "files": {f: pretrained.file_sha256(folder / f) for f in files},
        "training_data": args.training_data, "steps": meta.get("step"), "wall_seconds": round(args.wall_seconds, 1),
        "machine": args.machine, "train_command": args.train_command, "figure_command": shlex.join(cmd),
        "description": args.description, "figure": {}}
    write_manifest(root, entries)
    try:
        r = measure(cmd, root)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        write_manifest(root, old)       # leave the manifest as it was
        raise
    entries[args.name]["figure"] = {
        "dataset": args.dataset, "split": args.split, "data_options": args.data_option, "metric": args.metric,
        "value": r[args.metric], "bits_per_dim": r["bits_per_dim"], "nats_per_image": r["nats_per_image"],
        "num_images": r["num_images"], "weights": r["weights"]}
    write_manifest(root, entries)
    print(f"added pretrained:{args.name}: {r[args.metric]:.4f} {args.metric} on {args.dataset}/{args.split} "
          f"({r['num_images']} images); files in {folder}; reproduce with: {shlex.join(cmd)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
