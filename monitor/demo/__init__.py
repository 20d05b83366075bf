"""The offline demonstration: a realistic news site built from the seed article (``site``) and the
``newsmon demo`` command (``run``)."""
