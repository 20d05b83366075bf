"""``python -m monitor`` is ``newsmon``."""

from .cli import main

if __name__ == "__main__":      # never when a worker process imports the main module
    main()
