"""The collector's ``onex-otel`` commands: ``db``, ``collect``, ``replay`` and ``demo``.

Each module exposes ``register(subparsers)``; the CLI core (:mod:`onex_otel.cli`) finds them
through the entry-point group ``onex_otel.commands`` declared in ``pyproject.toml``. A module
imports only ``argparse`` at the top, so ``onex-otel --help`` stays quick.
"""
