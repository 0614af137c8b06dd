"""``python -m dlcourse ...``: the same as the ``dlcourse`` console command."""

import sys

from dlcourse.cli import main

sys.exit(main())
