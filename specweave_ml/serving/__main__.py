"""``python -m specweave_ml.serving <increment folder> [--settings JSON] [--host H] [--port P]``

The server without Hydra: what a load test's subprocess and a container run. ``--settings`` is a
``ServerConfig`` as JSON (``stage=loadtest`` and the Dockerfile write it); without it, the defaults of
``conf/serving/default.yaml``. A mistake ends in one line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

import specweave_ml  # noqa: F401  (sets OMP_WAIT_POLICY before any OpenMP library loads)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m specweave_ml.serving", description=__doc__.splitlines()[0])
    parser.add_argument("increment", help="the increment's folder (increments/<id>)")
    parser.add_argument("--settings", help="ServerConfig as JSON")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)

    from specweave_ml.errors import SpecweaveError
    from specweave_ml.serving.server import serve
    from specweave_ml.serving.settings import ServerConfig

    try:
        if args.settings:
            try:
                config = ServerConfig.from_json(args.settings)
            except (TypeError, ValueError) as err:
                raise SpecweaveError("--settings", f"not a ServerConfig as JSON ({err})", "let stage=loadtest or the Dockerfile write it") from None
            config.increment = args.increment
        else:
            from pathlib import Path

            from specweave_ml.paths import IncrementPaths
            from specweave_ml.schema import ServingSchema
            from specweave_ml.serving.settings import server_config

            config = server_config(ServingSchema(), IncrementPaths(Path(args.increment)))
        config.host = args.host or config.host
        config.port = args.port or config.port
        serve(config)
    except SpecweaveError as err:
        print(f"error: {err.message}", file=sys.stderr)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
