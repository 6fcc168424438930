"""``python -m shapebias.cli`` (and ``torchrun -m shapebias.cli``) runs the console script."""

import sys

from shapebias.cli import main

sys.exit(main())
