"""``python -m monitor`` is ``newsmon``."""

from .cli import main

main()
