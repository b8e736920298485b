"""Command line: ``python -m digit_core train|evaluate|predict|explain|models|ensemble|compare``.

Every command is a thin layer over the core; ``--help`` on each shows its defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from digit_core import config, zoo

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:
        # Bad input and missing files get one clear line, never a traceback.
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digit_core", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = argparse.ArgumentDefaultsHelpFormatter

    train = commands.add_parser("train", help="train a zoo model or a composed network",
                                formatter_class=defaults)
    train.add_argument("--preset", default="fast", choices=sorted(zoo.ZOO), help="zoo model and its recipe")
    train.add_argument("--hidden-units", type=_int_tuple, default=None,
                       help="compose an MLP instead, e.g. 256,128 (overrides --preset's network)")
    train.add_argument("--dropout", type=float, default=None, help="dropout rate (default: the preset's)")
    train.add_argument("--optimizer", choices=zoo.OPTIMIZERS, default=None, help="default: the preset's")
    train.add_argument("--learning-rate", type=float, default=None, help="default: the preset's")
    train.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    train.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    train.add_argument("--validation-split", type=float, default=None, help="default: the preset's")
    train.add_argument("--patience", type=int, default=None, help="early-stopping patience; 0 disables")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="augment training images (default: the preset's)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--subset", type=int, default=None, help="train on the first N training images only")
    train.add_argument("--extra-usps", action="store_true",
                       help="also train on the USPS training set (never its test set)")
    train.add_argument("--extra-writers", action="store_true",
                       help="also train on other writers: USPS train, pendigits' and optdigits' training "
                            "writers (never their held-out writers), read through the pipeline")
    train.add_argument("--out", type=Path, default=None, help="also save the model as PATH.keras (+ .json)")
    train.add_argument("--name", default=None, help="model name in the registry (default: the preset)")
    train.add_argument("--resume", default=None, metavar="RUN_ID", help="continue this run from its last epoch")
    train.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs into the run")
    train.add_argument("--data-dir", type=Path, default=None, help=f"MNIST directory (else ${config.DATA_DIR_ENV})")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_cmd_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a model on the MNIST test set",
                                   formatter_class=defaults)
    evaluate.add_argument("--model", default=None, help="a .keras path or registry id (default: active model)")
    evaluate.add_argument("--dataset", choices=("mnist", "usps"), default="mnist")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--data-dir", type=Path, default=None)
    evaluate.set_defaults(handler=_cmd_evaluate)

    predict = commands.add_parser("predict", help="classify digit image files", formatter_class=defaults)
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--model", default=None, help="a .keras path or registry id (default: active model)")
    predict.add_argument("--json", action="store_true", help="print one JSON line per image")
    predict.add_argument("--number", action="store_true",
                         help="read each image as a number of up to 20 digits, left to right")
    predict.set_defaults(handler=_cmd_predict)

    explain = commands.add_parser("explain", help="which strokes made the model read each digit image",
                                  formatter_class=defaults)
    explain.add_argument("images", nargs="+", metavar="IMAGE")
    explain.add_argument("--model", default=None, help="a .keras path or registry id (default: active model)")
    explain.add_argument("--json", action="store_true",
                         help="print one JSON line per image, with 28×28 saliency maps")
    explain.set_defaults(handler=_cmd_explain)

    models = commands.add_parser("models", help="list saved models and runs", formatter_class=defaults)
    models.add_argument("--json", action="store_true")
    models.set_defaults(handler=_cmd_models)

    ensemble = commands.add_parser("ensemble", help="average trained models into one model",
                                   formatter_class=defaults)
    ensemble.add_argument("members", nargs="+", metavar="MODEL", help="two or more .keras paths or registry ids")
    ensemble.add_argument("--out", type=Path, required=True, help="save the ensemble as PATH.keras (+ .json)")
    ensemble.add_argument("--name", default="ensemble", help="model name in the registry")
    ensemble.add_argument("--data-dir", type=Path, default=None, help="MNIST directory, to measure it")
    ensemble.set_defaults(handler=_cmd_ensemble)

    compare = commands.add_parser("compare", help="the model-comparison study", formatter_class=defaults)
    compare.add_argument("--quick", action="store_true", help="a few seconds per model on a subset")
    compare.add_argument("--out", type=Path, default=None,
                         help="default: results/comparison.json (with --quick: results/comparison-quick.json)")
    compare.add_argument("--resume", action="store_true",
                         help="keep the finished entries of an interrupted run (OUT's .partial.json)")
    compare.add_argument("--data-dir", type=Path, default=None)
    compare.set_defaults(handler=_cmd_compare)
    return parser


def _int_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None


def _cmd_train(args: argparse.Namespace) -> int:
    from digit_core import commands

    network, training = _configs_from_args(args)
    summary = commands.train_and_record(
        network, training, name=args.name or args.preset, data_dir=args.data_dir, subset=args.subset,
        extra_usps=args.extra_usps, out=args.out, resume_run=args.resume, tensorboard=args.tensorboard,
        progress=not args.quiet, extra_writers=args.extra_writers)
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def _configs_from_args(args: argparse.Namespace) -> tuple[zoo.NetworkConfig, zoo.TrainConfig]:
    entry = zoo.get_entry(args.preset)
    network = entry.network
    if args.hidden_units is not None:
        network = zoo.MLPConfig(hidden_units=args.hidden_units, dropout_rate=args.dropout or 0.0)
    elif args.dropout is not None:
        network = zoo.with_overrides(network, dropout_rate=args.dropout)
    training = zoo.with_overrides(
        entry.training, optimizer=args.optimizer, learning_rate=args.learning_rate, batch_size=args.batch_size,
        epochs=args.epochs, validation_split=args.validation_split, early_stopping_patience=args.patience,
        augment=args.augment, seed=args.seed)
    return network, training


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from digit_core import commands

    summary = commands.ensemble_and_record(args.members, out=args.out, name=args.name, data_dir=args.data_dir)
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from digit_core import commands

    result = commands.evaluate_model(args.model, dataset=args.dataset, data_dir=args.data_dir)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['model']}: accuracy {result['test_accuracy']:.4%}, loss {result['test_loss']:.4f} "
              f"on {result['n']} {args.dataset} test images")
    return EXIT_OK


def _cmd_predict(args: argparse.Namespace) -> int:
    from digit_core import commands

    failed = False
    for line in commands.predict_files(args.model, args.images, number=args.number):
        failed = failed or "error" in line
        if args.json:
            print(json.dumps(line), flush=True)
        elif args.number:
            print(_number_text(line), flush=True)
        elif "error" in line:
            print(f"{line['path']}: error: {line['error']}", flush=True)
        elif line["digit"] is None:
            print(f"{line['path']}: no digit found ({line.get('message', '')})", flush=True)
        else:
            print(f"{line['path']}: {line['digit']} ({line['confidence']:.1%})", flush=True)
    return EXIT_FAILED if failed else EXIT_OK


def _number_text(line: dict[str, Any]) -> str:
    """``path: 42 (4 at 97.1%, 2 at 88.0%)``, or why there is no number."""
    if "error" in line:
        return f"{line['path']}: error: {line['error']}"
    if line["number"] is None:
        return f"{line['path']}: no digit found"
    readings = ", ".join(f"{digit['digit']} at {digit['confidence']:.1%}" for digit in line["digits"])
    return f"{line['path']}: {line['number']} ({readings})"


def _cmd_explain(args: argparse.Namespace) -> int:
    from digit_core import commands

    failed = False
    for line in commands.explain_files(args.model, args.images):
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
    from digit_core import registry

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
    from digit_core import compare

    # A quick run never overwrites the full study's results, which the Compare page shows.
    default_name = "comparison-quick.json" if args.quick else "comparison.json"
    out = args.out or config.results_dir() / default_name
    results = compare.run_comparison(quick=args.quick, out=out, data_dir=args.data_dir, resume=args.resume)
    print(f"Wrote {len(results)} results to {out}")
    return EXIT_OK
