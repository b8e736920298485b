"""Command line: ``digit-studio train|evaluate|predict|explain|models|ensemble|export|compare|collection``.

``digit-studio`` (installed by ``pip install .``) and ``python -m digit_core`` are the same command.
Results go to stdout (one JSON document with ``--json``), progress and errors to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from digit_core import __version__, config
from digit_core.models import zoo
from digit_core.training.distribute import STRATEGIES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_PRESET = "fast"
# predict shows its progress from this many files on; a few files take a blink.
PROGRESS_FROM_FILES = 10
# The train options that make up a run's recipe: a resumed run keeps its own, so they are refused
# beside --resume (which accepts only --epochs, --distribute, --out, --tensorboard, --data-dir and
# --quiet). --distribute is not one: it says where a run trains, not what it learns, and a run may
# continue on other devices or machines than it started on.
RECIPE_OPTIONS = ("preset", "hidden_units", "dropout", "optimizer", "learning_rate", "batch_size",
                  "validation_split", "patience", "augment", "seed", "subset", "extra_usps", "extra_writers",
                  "extra_data", "usps_rescans", "name")

EXAMPLES = """examples:
  %(prog)s train --preset fast --epochs 3 --seed 0
      a run in runs/, with its progress on stderr
  %(prog)s train --resume RUN_ID --epochs 20
      continue a stopped run with its own recipe
  %(prog)s evaluate --json
      the active model's accuracy on MNIST test, as JSON
  %(prog)s predict --json scans/*.png
      one JSON line per image
  %(prog)s explain --json scans/*.png
      which strokes made the model read each image, as JSON lines
  %(prog)s export --format onnx --out model.onnx
      the active model for ONNX Runtime, checked on MNIST test
  %(prog)s collection export --out drawings.csv
      the labelled drawings, to train on with train --extra-data drawings.csv
  %(prog)s compare --quick
      the model-comparison study, small
  tensorboard --logdir runs
      the curves of runs trained with --tensorboard
"""
TRAIN_EXAMPLES = """examples:
  %(prog)s --preset tiny --subset 2000 --epochs 1
      a smoke run of a few seconds
  %(prog)s --preset best --extra-usps --out models/mine.keras
      our best recipe, also on USPS, saved as a model
  %(prog)s --hidden-units 256,128 --dropout 0.2 --optimizer rmsprop
      an MLP of your own
  %(prog)s --extra-writers --extra-data drawings.csv
      also on other writers and on the collected drawings (collection export's CSV)
  %(prog)s --resume 20260101-120000-fast --epochs 6
      three more epochs of a 3-epoch run
  %(prog)s --distribute multi-worker --preset best
      on every machine that $TF_CONFIG names, each with its own task (README: "Scaling out")
"""
DESCRIPTION = """Digit Studio's command line: train, evaluate, compare, inspect and export handwritten-digit models,
read digit images and keep a collection of labelled drawings. Results go to stdout (JSON with --json),
progress and errors to stderr."""
MODEL_HELP = "a .keras path or a registry id (see the models command) (default: the active model)"
DATA_DIR_HELP = f"the MNIST directory (default: ${config.DATA_DIR_ENV}, then ./data, ../shared/mnist, Keras' cache)"


class UsageError(ValueError):
    """Options that cannot go together."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks and names an option's default once, when it has a real one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or "default" in text
                or action.default in (None, False, argparse.SUPPRESS)):
            return text
        return f"{text} (default: %(default)s)"


def main(argv: list[str] | None = None) -> int:
    # TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) is noise for CLI users; it is
    # read when TensorFlow is first imported, which the commands do lazily.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, OSError) as error:
        # Bad input and missing files get one clear line, never a traceback.
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


def _prog() -> str:
    return "digit-studio" if Path(sys.argv[0]).name == "digit-studio" else "python -m digit_core"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(), description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     help="one of these; COMMAND --help for its options")
    _add_train(commands)

    evaluate = commands.add_parser("evaluate", help="evaluate a model on the MNIST test set",
                                   formatter_class=HelpFormatter)
    evaluate.add_argument("--model", default=None, help=MODEL_HELP)
    evaluate.add_argument("--dataset", choices=("mnist", "usps"), default="mnist",
                          help="the test set: MNIST's 10,000 digits, or USPS's 2,007 read through the pipeline")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    evaluate.add_argument("--quiet", action="store_true", help="no progress on stderr")
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

    ensemble = commands.add_parser("ensemble", help="average trained models into one model",
                                   formatter_class=HelpFormatter)
    ensemble.add_argument("members", nargs="+", metavar="MODEL", help="two or more .keras paths or registry ids")
    ensemble.add_argument("--out", type=Path, required=True, help="save the ensemble as PATH.keras (+ .json)")
    ensemble.add_argument("--name", default="ensemble", help="model name in the registry")
    ensemble.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    ensemble.set_defaults(handler=_cmd_ensemble)

    export = commands.add_parser("export", help="write a model for ONNX Runtime or LiteRT, checked on MNIST test",
                                 formatter_class=HelpFormatter)
    export.add_argument("--model", default=None, help=MODEL_HELP)
    export.add_argument("--format", dest="export_format", choices=("onnx", "litert"), default="onnx",
                        help="onnx (an .onnx file for ONNX Runtime) or litert (a .tflite file for LiteRT)")
    export.add_argument("--out", type=Path, required=True, metavar="PATH",
                        help="the file to write (.onnx or .tflite, as --format says)")
    export.add_argument("--json", action="store_true", help="print one JSON object")
    export.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    export.set_defaults(handler=_cmd_export)

    compare = commands.add_parser("compare", help="the model-comparison study", formatter_class=HelpFormatter)
    compare.add_argument("--quick", action="store_true", help="a few seconds per model on a subset")
    compare.add_argument("--out", type=Path, default=None,
                         help="the results file (default: results/comparison.json, with --quick "
                              "results/comparison-quick.json)")
    compare.add_argument("--resume", action="store_true",
                         help="keep the finished entries of an interrupted run (OUT's .partial.json)")
    compare.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    compare.add_argument("--quiet", action="store_true", help="no progress on stderr")
    compare.set_defaults(handler=_cmd_compare)
    _add_collection_parser(commands)
    return parser


def _add_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a zoo model or a composed network", epilog=TRAIN_EXAMPLES,
                                formatter_class=HelpFormatter)
    # The recipe's options default to None, so that --resume can tell which ones were given.
    train.add_argument("--preset", default=None, choices=sorted(zoo.ZOO), metavar="PRESET",
                       help=f"zoo model and its recipe: {', '.join(zoo.ZOO)} (default: {DEFAULT_PRESET})")
    train.add_argument("--hidden-units", type=_int_tuple, default=None, metavar="N,N,...",
                       help="compose an MLP instead, e.g. 256,128 (replaces the preset's network)")
    train.add_argument("--dropout", type=float, default=None, help="dropout rate (default: the preset's)")
    train.add_argument("--optimizer", choices=zoo.OPTIMIZERS, default=None, help="default: the preset's")
    train.add_argument("--learning-rate", type=float, default=None,
                       help="peak learning rate (default: the preset's, else the optimizer's)")
    train.add_argument("--batch-size", type=int, default=None,
                       help="images per step, across all devices and workers (default: the preset's)")
    train.add_argument("--epochs", type=int, default=None,
                       help="epochs in all; with --resume the new total (default: the preset's, or the run's)")
    train.add_argument("--validation-split", type=float, default=None,
                       help="share of the training images kept for validation (default: the preset's)")
    train.add_argument("--patience", type=int, default=None,
                       help="early-stopping patience in epochs, 0 for none (default: the preset's)")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="augment training images (default: the preset's)")
    train.add_argument("--seed", type=int, default=None,
                       help="seed of the validation split, the initial weights and the augmentation (default: 0)")
    train.add_argument("--subset", type=int, default=None, metavar="N",
                       help="train on the first N MNIST training images only (default: all 60,000)")
    train.add_argument("--extra-usps", action="store_true",
                       help="also train on the USPS training set (never its test set)")
    train.add_argument("--extra-writers", action="store_true",
                       help="also train on other writers: USPS train, pendigits' and optdigits' training "
                            "writers (never their held-out writers), read through the pipeline")
    train.add_argument("--usps-rescans", type=int, default=None, metavar="N",
                       help="with --extra-writers: USPS train is also scanned again N times at other "
                            "resolutions (default: 1)")
    train.add_argument("--extra-data", type=Path, default=None, metavar="FILE.csv",
                       help="also train on a label,pixel0..pixel783 CSV's images, as they are (e.g. collection "
                            "export's)")
    train.add_argument("--out", type=Path, default=None, help="also save the model as PATH.keras (+ .json)")
    train.add_argument("--name", default=None, help="model name in the registry (default: the preset's name)")
    train.add_argument("--resume", default=None, metavar="RUN_ID",
                       help="continue this run from its last epoch with its own recipe; only --epochs, "
                            "--distribute, --out, --tensorboard, --data-dir and --quiet go with it")
    train.add_argument("--distribute", choices=STRATEGIES, default="none",
                       help="none: this process; mirrored: every local GPU (the CPU when there is none); "
                            "multi-worker: the processes or machines $TF_CONFIG names (only the chief writes "
                            "the run and --out)")
    train.add_argument("--tensorboard", action="store_true",
                       help="write TensorBoard logs into the run (tensorboard --logdir runs)")
    train.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    train.add_argument("--quiet", action="store_true", help="no progress on stderr")
    train.set_defaults(handler=_cmd_train)


def _int_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None


def _cmd_train(args: argparse.Namespace) -> int:
    from digit_core import workflows

    if args.resume:
        given = [f"--{option.replace('_', '-')}" for option in RECIPE_OPTIONS
                 if getattr(args, option) not in (None, False)]
        if given:
            raise UsageError(f"{', '.join(given)} cannot go with --resume: a resumed run keeps its own recipe "
                             "(network, training settings, data, name). Only --epochs, --distribute, --out, "
                             "--tensorboard, --data-dir and --quiet may be given with it; start a new run to "
                             "change the recipe.")
        summary = workflows.resume_and_record(args.resume, epochs=args.epochs, data_dir=args.data_dir, out=args.out,
                                             tensorboard=args.tensorboard, progress=not args.quiet,
                                             distribute=args.distribute)
    else:
        network, training = _configs_from_args(args)
        summary = workflows.train_and_record(
            network, training, name=args.name or args.preset or DEFAULT_PRESET, data_dir=args.data_dir,
            subset=args.subset, extra_usps=args.extra_usps, out=args.out, tensorboard=args.tensorboard,
            progress=not args.quiet, extra_writers=args.extra_writers, extra_data=args.extra_data,
            usps_rescans=1 if args.usps_rescans is None else args.usps_rescans, distribute=args.distribute)
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def _configs_from_args(args: argparse.Namespace) -> tuple[zoo.NetworkConfig, zoo.TrainConfig]:
    entry = zoo.get_entry(args.preset or DEFAULT_PRESET)
    network = entry.network
    if args.hidden_units is not None:
        network = zoo.MLPConfig(hidden_units=args.hidden_units, dropout_rate=args.dropout or 0.0)
    elif args.dropout is not None:
        network = zoo.with_overrides(network, dropout_rate=args.dropout)
    training = zoo.with_overrides(
        entry.training, optimizer=args.optimizer, learning_rate=args.learning_rate, batch_size=args.batch_size,
        epochs=args.epochs, validation_split=args.validation_split, early_stopping_patience=args.patience,
        augment=args.augment, seed=args.seed or 0)
    return network, training


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from digit_core import workflows

    summary = workflows.ensemble_and_record(args.members, out=args.out, name=args.name, data_dir=args.data_dir)
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from digit_core import workflows

    result = workflows.export_model(args.model, args.export_format, args.out, data_dir=args.data_dir)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"Wrote {result['out']} ({result['size_bytes'] / 1e6:.2f} MB). On {result['n']:,} MNIST test digits "
              f"it reads {result['export_accuracy']:.2%}, Keras {result['keras_accuracy']:.2%}; "
              f"{result['digits_read_differently']} digits read differently, largest probability difference "
              f"{result['max_probability_difference']:.1e}.")
    return EXIT_OK


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


def _add_collection_parser(commands: argparse._SubParsersAction) -> None:
    collection = commands.add_parser(
        "collection", formatter_class=HelpFormatter,
        help=f"the labelled drawings (in ${config.DB_URL_ENV}, ${config.DB_ENV} or data/collection.db)")
    actions = collection.add_subparsers(dest="action", required=True, metavar="ACTION",
                                        help="one of these; ACTION --help for its options")
    add = actions.add_parser("add", help="store image files as drawings of one digit", formatter_class=HelpFormatter)
    add.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, BMP, ...), one digit each")
    add.add_argument("--label", required=True, help="the digit 0-9 every IMAGE shows")
    add.add_argument("--who", default=None, help="who drew them (default: your login name)")
    add.add_argument("--model", default=None,
                     help="the model whose reading is stored beside each drawing: a .keras path or a registry id "
                          "(default: the active model)")
    add.add_argument("--json", action="store_true", help="print one JSON line per image")
    add.set_defaults(handler=_cmd_collection_add)
    listing = actions.add_parser("list", help="list the drawings, oldest first", formatter_class=HelpFormatter)
    listing.add_argument("--json", action="store_true",
                         help="one JSON line per drawing: id, label, predicted, confidence, who, model_id, created")
    listing.set_defaults(handler=_cmd_collection_list)
    export = actions.add_parser("export", help="write the 28x28 inputs as a label,pixel0..pixel783 CSV",
                                formatter_class=HelpFormatter)
    export.add_argument("--out", type=Path, required=True, metavar="FILE.csv",
                        help="the CSV to write (train --extra-data and the Explore page read it)")
    export.set_defaults(handler=_cmd_collection_export)
    delete = actions.add_parser("delete", help="delete drawings by id", formatter_class=HelpFormatter)
    delete.add_argument("ids", nargs="+", type=int, metavar="ID", help="ids of drawings, as collection list shows")
    delete.set_defaults(handler=_cmd_collection_delete)


def _collection_errors(handler):
    """A database that cannot be used is one clear line on stderr and exit status 1, never a traceback."""
    import functools

    @functools.wraps(handler)
    def guarded(args: argparse.Namespace) -> int:
        from digit_core.store.database import CollectionError

        try:
            return handler(args)
        except CollectionError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_FAILED
    return guarded


@_collection_errors
def _cmd_collection_add(args: argparse.Namespace) -> int:
    import getpass

    from digit_core import workflows

    failed = False
    for line in workflows.collect_files(args.model, args.images, args.label, args.who or getpass.getuser()):
        if "error" in line:
            failed = True
            print(f"{line['path']}: error: {line['error']} Nothing was stored for it.", file=sys.stderr, flush=True)
        elif args.json:
            print(json.dumps(line), flush=True)
        else:
            print(f"{line['path']}: stored as drawing #{line['id']}, a {line['label']} "
                  f"(the model read {line['predicted']} at {line['confidence']:.1%})", flush=True)
    return EXIT_FAILED if failed else EXIT_OK


@_collection_errors
def _cmd_collection_list(args: argparse.Namespace) -> int:
    from digit_core.store.collection import Collection

    collection = Collection.open()
    try:
        drawings = collection.drawings()
    finally:
        collection.close()
    for drawing in drawings:
        row = drawing.to_json()
        if args.json:
            print(json.dumps(row))
        else:
            print(f"#{row['id']:<6} {row['label']}  read {row['predicted']} ({row['confidence']:.0%})  "
                  f"{row['who']:<20} {row['created']}  {row['model_id']}")
    if not drawings and not args.json:
        print(f"No drawings in {collection.where} yet.")
    return EXIT_OK


@_collection_errors
def _cmd_collection_export(args: argparse.Namespace) -> int:
    from digit_core import workflows

    result = workflows.export_collection(args.out)
    plural = "" if result["drawings"] == 1 else "s"
    print(f"Wrote {result['drawings']} drawing{plural} to {result['out']}.")
    return EXIT_OK


@_collection_errors
def _cmd_collection_delete(args: argparse.Namespace) -> int:
    from digit_core.store.collection import Collection

    collection = Collection.open()
    try:
        deleted = collection.delete(args.ids)
    finally:
        collection.close()
    missing = sorted(set(args.ids) - set(deleted))
    if deleted:
        print(f"Deleted {len(deleted)} drawing{'s' if len(deleted) != 1 else ''}: "
              + ", ".join(f"#{drawing_id}" for drawing_id in deleted) + ".")
    if missing:
        print("error: no drawing " + ", ".join(f"#{drawing_id}" for drawing_id in missing) + " in the collection.",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
