"""The commands that make models: ``train``, ``ensemble`` and ``export``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from digit_core.cli.common import (DATA_DIR_HELP, DEFAULT_PRESET, EXIT_OK, MODEL_HELP, HelpFormatter, UsageError,
                                   add_data_dir_and_quiet)
from digit_core.models import zoo
from digit_core.training.distribute import STRATEGIES

# The train options that make up a run's recipe: a resumed run keeps its own, so they are refused
# beside --resume (which accepts only --epochs, --distribute, --out, --tensorboard, --data-dir and
# --quiet). --distribute is not one: it says where a run trains, not what it learns, and a run may
# continue on other devices or machines than it started on.
RECIPE_OPTIONS = ("preset", "hidden_units", "dropout", "optimizer", "learning_rate", "batch_size",
                  "validation_split", "patience", "augment", "seed", "subset", "extra_usps", "extra_writers",
                  "extra_data", "usps_rescans", "name")

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


def add_train(commands: argparse._SubParsersAction) -> None:
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
    add_data_dir_and_quiet(train)
    train.set_defaults(handler=_cmd_train)


def add_outputs(commands: argparse._SubParsersAction) -> None:
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
        network, training = configs_from_args(args)
        summary = workflows.train_and_record(
            network, training, name=args.name or args.preset or DEFAULT_PRESET, data_dir=args.data_dir,
            subset=args.subset, extra_usps=args.extra_usps, out=args.out, tensorboard=args.tensorboard,
            progress=not args.quiet, extra_writers=args.extra_writers, extra_data=args.extra_data,
            usps_rescans=1 if args.usps_rescans is None else args.usps_rescans, distribute=args.distribute)
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def configs_from_args(args: argparse.Namespace) -> tuple[zoo.NetworkConfig, zoo.TrainConfig]:
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
