"""``python -m digit_core``, the same command as ``digit-studio``: see ``digit_core.cli``."""

import sys

from digit_core.cli import main

sys.exit(main())
