"""Errors a user can cause, and how they reach the terminal.

A :class:`UserError` is a mistake the person running the package can fix (missing data offline, a
bad checksum, an unknown lab, a corrupt model file). The CLI and every lab print its message as one
line and exit with status 2; programming errors are left to raise with a traceback.
"""

import sys


class UserError(Exception):
    """A problem the user can fix; its message says what happened and what to do."""

    exit_code = 2


def report_user_errors(function, *args, **kwargs):
    """Call ``function``; turn a :class:`UserError` into one stderr line and exit code 2.

    Returns the function's own exit code (``None`` becomes 0), so scripts can end with
    ``sys.exit(report_user_errors(main))``.
    """
    try:
        result = function(*args, **kwargs)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished files were kept; no half-written file was left", file=sys.stderr)
        return 130
    return 0 if result is None else int(result)
