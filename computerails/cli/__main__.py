"""``python -m computerails.cli``: the same as the ``computerails`` command."""

import sys

from computerails.cli import main

if __name__ == "__main__":
    sys.exit(main())
