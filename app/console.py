"""The ``packflow`` command: Litestar's command line for this app, from any folder, with no ``LITESTAR_APP``.

``packflow run``, ``packflow database upgrade``, ``packflow users create ...``, ``packflow workflows ...``:
every command ``litestar`` has here (README.md, "Commands"). ``litestar ...`` keeps working from the
repository folder, where it finds ``app:create_app`` by itself.
"""

from __future__ import annotations

import os

APP = "app:create_app"


def main() -> None:
    """Run Litestar's CLI group on Packflow's app factory (``--app`` still chooses another one)."""
    os.environ["LITESTAR_APP"] = APP  # not a LITESTAR_APP left in the shell for some other project
    from litestar.cli.main import litestar_group

    litestar_group(prog_name="packflow")


if __name__ == "__main__":
    main()
