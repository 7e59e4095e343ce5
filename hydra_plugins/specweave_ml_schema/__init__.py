"""Registers specweave-ml's config schema with Hydra in any process that composes ``conf/``.

Hydra imports every module under the ``hydra_plugins`` namespace when it starts, so DVC's own Hydra
composition (``dvc exp run -S problem=...``, with ``hydra.enabled``) validates against the same
dataclasses as ``python -m specweave_ml``.
"""

from hydra.core.plugins import Plugins  # noqa: F401  (this module is found by Hydra's plugin scan)
from hydra.plugins.search_path_plugin import SearchPathPlugin

from specweave_ml.schema import register

register()


class SpecweaveSchemaPlugin(SearchPathPlugin):
    """No search-path change: the class exists so that Hydra's scan counts this module as a plugin."""

    def manipulate_search_path(self, search_path) -> None:
        return None
