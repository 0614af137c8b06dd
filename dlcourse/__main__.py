"""``python -m dlcourse ...``: the same as the ``dlcourse`` console command."""

import sys

from dlcourse.cli import main

if __name__ == "__main__":  # not when a --jobs worker process imports it
    sys.exit(main())
