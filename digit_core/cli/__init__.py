"""Command line: ``digit-studio train|evaluate|predict|explain|models|ensemble|export|compare|collection``.

``digit-studio`` (installed by ``pip install .``) and ``python -m digit_core`` are the same command.
Results go to stdout (one JSON document with ``--json``), progress and errors to stderr. The
commands live by what they do: ``cli.train`` (train, ensemble, export), ``cli.read`` (evaluate,
predict, explain, models, compare) and ``cli.collection``; each calls ``digit_core.workflows``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from digit_core import __version__
from digit_core.cli import collection, read, train
from digit_core.cli.common import (EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROGRESS_FROM_FILES, HelpFormatter,
                                   UsageError)
from digit_core.cli.train import RECIPE_OPTIONS

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "PROGRESS_FROM_FILES", "RECIPE_OPTIONS", "UsageError",
           "build_parser", "main"]

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

DESCRIPTION = """Digit Studio's command line: train, evaluate, compare, inspect and export handwritten-digit models,
read digit images and keep a collection of labelled drawings. Results go to stdout (JSON with --json),
progress and errors to stderr."""


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
    # In the order --help lists them.
    train.add_train(commands)
    read.add_reading(commands)
    train.add_outputs(commands)
    read.add_compare(commands)
    collection.add_collection(commands)
    return parser
