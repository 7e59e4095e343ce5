"""The one helper every test folder uses: the real ``conf/`` composed with overrides, rooted in a temp folder."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from specweave_ml import schema

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "conf"


def compose_at(root, overrides=()):
    """``conf/config.yaml`` composed with ``overrides``; ``paths.root`` set to ``root`` when given."""
    schema.register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    if root is not None:
        OmegaConf.update(cfg, "paths.root", str(root))
    return cfg
