"""``python -m digit_core``: see ``digit_core.cli``."""

import os
import sys

# TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) is noise for CLI users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digit_core.cli import main  # noqa: E402

sys.exit(main())
