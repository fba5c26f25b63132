"""Training: run configurations (more to come: the Trainer, losses, checkpoints)."""

from .config import ConfigError, RunConfig, load_config, parse_overrides

__all__ = ["ConfigError", "RunConfig", "load_config", "parse_overrides"]
