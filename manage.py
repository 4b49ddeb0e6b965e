#!/usr/bin/env python
"""Django's command-line entry point for LipService."""

from __future__ import annotations

import os
import sys

# Commands that need neither settings nor a database run before Django's start-up, which is most of their time.
DJANGO_FREE = {"mine_patterns": "patterns.mine_file"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in DJANGO_FREE:
        from importlib import import_module

        sys.exit(import_module(DJANGO_FREE[sys.argv[1]]).main(sys.argv[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lipservice.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
