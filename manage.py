#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightsdesk.settings")
    from django.core.management import execute_from_command_line

    from rightsdesk.envkeys import MissingSetting

    try:
        execute_from_command_line(sys.argv)
    except MissingSetting as exc:
        # A configuration mistake, not a bug: one line naming the variable, no traceback.
        sys.stderr.write(f"Configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
