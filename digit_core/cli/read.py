"""The commands that read with a model or about models: ``evaluate``, ``predict``, ``explain``,
``models`` and the ``compare`` study."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from digit_core import config
from digit_core.cli.common import (EXIT_FAILED, EXIT_OK, MODEL_HELP, PROGRESS_FROM_FILES, HelpFormatter,
                                   add_data_dir_and_quiet)


def add_reading(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("evaluate", help="evaluate a model on the MNIST test set",
                                   formatter_class=HelpFormatter)
    evaluate.add_argument("--model", default=None, help=MODEL_HELP)
    evaluate.add_argument("--dataset", choices=("mnist", "usps"), default="mnist",
                          help="the test set: MNIST's 10,000 digits, or USPS's 2,007 read through the pipeline")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    add_data_dir_and_quiet(evaluate)
    evaluate.set_defaults(handler=_cmd_evaluate)

    predict = commands.add_parser("predict", help="classify digit image files", formatter_class=HelpFormatter)
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, BMP, ...)")
    predict.add_argument("--model", default=None, help=MODEL_HELP)
    predict.add_argument("--json", action="store_true", help="print one JSON line per image")
    predict.add_argument("--number", action="store_true",
                         help="read each image as a number of up to 20 digits, left to right")
    predict.add_argument("--quiet", action="store_true",
                         help=f"no progress on stderr (shown from {PROGRESS_FROM_FILES} files on)")
    predict.set_defaults(handler=_cmd_predict)

    explain = commands.add_parser("explain", help="which strokes made the model read each digit image",
                                  formatter_class=HelpFormatter)
    explain.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, BMP, ...)")
    explain.add_argument("--model", default=None, help=MODEL_HELP)
    explain.add_argument("--json", action="store_true",
                         help="print one JSON line per image, with 28×28 saliency maps")
    explain.set_defaults(handler=_cmd_explain)

    models = commands.add_parser("models", help="list saved models and runs", formatter_class=HelpFormatter)
    models.add_argument("--json", action="store_true", help="print one JSON list")
    models.set_defaults(handler=_cmd_models)


def add_compare(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser("compare", help="the model-comparison study", formatter_class=HelpFormatter)
    compare.add_argument("--quick", action="store_true", help="a few seconds per model on a subset")
    compare.add_argument("--out", type=Path, default=None,
                         help="the results file (default: results/comparison.json, with --quick "
                              "results/comparison-quick.json)")
    compare.add_argument("--resume", action="store_true",
                         help="keep the finished entries of an interrupted run (OUT's .partial.json)")
    add_data_dir_and_quiet(compare)
    compare.set_defaults(handler=_cmd_compare)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from digit_core import workflows
    from digit_core.training.progress import Progress

    progress = None if args.quiet else Progress(None, "evaluate", "images")
    try:
        result = workflows.evaluate_model(args.model, dataset=args.dataset, data_dir=args.data_dir,
                                          on_images=progress.update_to if progress else None)
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['model']}: accuracy {result['test_accuracy']:.4%}, loss {result['test_loss']:.4f} "
              f"on {result['n']} {args.dataset} test images")
    return EXIT_OK


def _cmd_predict(args: argparse.Namespace) -> int:
    from digit_core import workflows
    from digit_core.training.progress import Progress

    failed = False
    progress = None
    if not args.quiet and len(args.images) >= PROGRESS_FROM_FILES:
        progress = Progress(len(args.images), "predict", "files")
    try:
        for line in workflows.predict_files(args.model, args.images, number=args.number):
            failed = failed or "error" in line
            text = json.dumps(line) if args.json else (_number_text(line) if args.number else _prediction_text(line))
            if progress is None:
                print(text, flush=True)
            else:
                progress.print(text)
                progress.advance()
    finally:
        if progress is not None:
            progress.close()
    return EXIT_FAILED if failed else EXIT_OK


def _prediction_text(line: dict[str, Any]) -> str:
    if "error" in line:
        return f"{line['path']}: error: {line['error']}"
    if line["digit"] is None:
        return f"{line['path']}: no digit found ({line.get('message', '')})"
    return f"{line['path']}: {line['digit']} ({line['confidence']:.1%})"


def _number_text(line: dict[str, Any]) -> str:
    """``path: 42 (4 at 97.1%, 2 at 88.0%)``, or why there is no number."""
    if "error" in line:
        return f"{line['path']}: error: {line['error']}"
    if line["number"] is None:
        return f"{line['path']}: no digit found"
    readings = ", ".join(f"{digit['digit']} at {digit['confidence']:.1%}" for digit in line["digits"])
    return f"{line['path']}: {line['number']} ({readings})"


def _cmd_explain(args: argparse.Namespace) -> int:
    from digit_core import workflows

    failed = False
    for line in workflows.explain_files(args.model, args.images):
        failed = failed or "error" in line
        if args.json:
            print(json.dumps(line), flush=True)
        elif "error" in line:
            print(f"{line['path']}: error: {line['error']}", flush=True)
        elif line["digit"] is None:
            print(f"{line['path']}: no digit found ({line['message']})", flush=True)
        else:
            print(f"{line['path']}: {line['digit']} ({line['confidence']:.1%}), runner-up {line['runner_up']} "
                  f"({line['runner_up_confidence']:.1%})\n{_ascii_map(line['saliency'])}", flush=True)
    return EXIT_FAILED if failed else EXIT_OK


def _ascii_map(saliency: list[list[float]]) -> str:
    """A 28×28 saliency map as text: blank for nothing, then ``.:*#`` from weak to strong."""
    strongest = max(max(row) for row in saliency) or 1.0
    shades = ".:*#"
    return "\n".join("".join(shades[min(3, int(4 * value / strongest))] if value > 0 else " " for value in row)
                     for row in saliency)


def _cmd_models(args: argparse.Namespace) -> int:
    from digit_core.store import registry

    entries = registry.list_models()
    rows: list[dict[str, Any]] = [
        {"id": e.model_id, "name": e.name, "architecture": e.architecture, "params": e.params,
         "test_accuracy": e.test_accuracy, "created": e.created, "source": e.source, "broken": e.broken}
        for e in entries]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print(f"No models in {config.models_dir()} or {config.runs_dir()}.")
    for row in rows:
        accuracy = f"{row['test_accuracy']:.2%}" if row["test_accuracy"] is not None else "—"
        state = f"BROKEN: {row['broken']}" if row["broken"] else row["architecture"]
        print(f"{row['id']:<40} {accuracy:>8}  {state}")
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from digit_core.study import compare
    from digit_core.training.progress import Progress

    # A quick run never overwrites the full study's results, which the Compare page shows.
    default_name = "comparison-quick.json" if args.quick else "comparison.json"
    out = args.out or config.results_dir() / default_name
    progress = None if args.quiet else Progress(None, "compare", "entries")
    try:
        results = compare.run_comparison(
            quick=args.quick, out=out, data_dir=args.data_dir, resume=args.resume,
            on_start=progress.set_total if progress else None,
            on_result=(lambda entry: progress.advance(note=_entry_text(entry))) if progress else None)
    finally:
        if progress is not None:
            progress.close()
    print(f"Wrote {len(results)} results to {out}")
    return EXIT_OK


def _entry_text(entry: dict[str, Any]) -> str:
    """One finished entry of the study, e.g. ``dropout: dropout 0.3: 97.90% (trained in 41 s)``."""
    accuracy = entry.get("test_accuracy")
    score = f"{accuracy:.2%}" if accuracy is not None else "no accuracy"
    if entry.get("same_run_as"):
        how = f"the run of {entry['same_run_as']}"
    elif entry.get("train_seconds") is not None:
        how = f"trained in {entry['train_seconds']:.0f} s"
    else:
        how = "measured"
    return f"{entry.get('experiment')}: {entry.get('setting') or entry.get('name')}: {score} ({how})"
