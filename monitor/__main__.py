"""``python -m monitor`` is ``newsmon``."""

from .entry import run

if __name__ == "__main__":      # never when a worker process imports the main module
    run()
