"""What every command of the command line shares: exit statuses, help texts, the usage error."""

from __future__ import annotations

import argparse
from pathlib import Path

from digit_core import config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_PRESET = "fast"
# predict shows its progress from this many files on; a few files take a blink.
PROGRESS_FROM_FILES = 10
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


def add_data_dir_and_quiet(command: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--quiet``, which every command that reads MNIST and shows progress takes."""
    command.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    command.add_argument("--quiet", action="store_true", help="no progress on stderr")
