"""Experiment configs: schema, YAML loading, overrides."""

from vitdet_cli.config.loader import dump_config, load_config
from vitdet_cli.config.schema import ExperimentConfig

__all__ = ["ExperimentConfig", "dump_config", "load_config"]
