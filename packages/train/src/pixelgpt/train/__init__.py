"""pixelgpt.train: the Composer trainer for TextGPT, PixelGPT, MonoGPT and DualGPT.

    from pixelgpt.train import load_config, train
    summary = train(load_config("yamls/tiny/dualgpt.yaml", ["data.shards=[{path: out/shards}]"]))

`train` is imported lazily, so loading and checking a config does not pay for torch and composer.
"""

from pixelgpt.train.config import ConfigError, TrainConfig, load_config

__all__ = ["ConfigError", "TrainConfig", "load_config", "train", "format_summary"]


def __getattr__(name: str):
    if name in ("train", "format_summary"):
        from pixelgpt.train import trainer

        return getattr(trainer, name)
    raise AttributeError(name)
