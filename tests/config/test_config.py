"""pixelgpt.config.from_dict: keys and types checked recursively, every error naming the key's path; one
ConfigError class for every package's configs."""

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from pixelgpt.config import ConfigError, from_dict


@dataclass
class Inner:
    path: str
    weight: float = 1.0


@dataclass
class Outer:
    name: str
    inner: Inner
    mode: Literal["a", "b"] = "a"
    count: int = 1
    items: list[Inner] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None


@dataclass(frozen=True)
class Checked:
    size: int

    def __post_init__(self):
        if self.size < 1:
            raise ConfigError(f"size: must be >= 1, got {self.size}")


def test_builds_nested_dataclasses():
    cfg = from_dict(Outer, {"name": "x", "inner": {"path": "p"}, "items": [{"path": "q", "weight": 2}]})
    assert cfg == Outer("x", Inner("p"), items=[Inner("q", 2.0)])
    assert isinstance(cfg.items[0].weight, float)  # an int where a float is wanted becomes one


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "inner": {"path": "p"}, "nmae": 1}, "unknown key 'nmae'"),
        ({"inner": {"path": "p"}}, "missing key 'name'"),
        ({"name": "x", "inner": {"path": "p", "wieght": 1}}, "unknown key 'inner.wieght'"),
        ({"name": "x", "inner": {}}, "missing key 'inner.path'"),
        ({"name": "x", "inner": {"path": "p"}, "items": [{"path": 3}]}, "items[0].path: expected str"),
        ({"name": "x", "inner": {"path": "p"}, "mode": "c"}, "mode: 'c' is not one of ['a', 'b']"),
        ({"name": "x", "inner": {"path": "p"}, "count": True}, "count: expected int, got True"),
        ({"name": "x", "inner": {"path": "p"}, "count": 1.5}, "count: expected int, got 1.5"),
        ({"name": "x", "inner": {"path": "p"}, "limit": "3"}, "limit: expected int, got '3'"),
        ({"name": "x", "inner": "p"}, "inner: expected a mapping"),
        ({"name": "x", "inner": {"path": "p", "weight": "heavy"}}, "inner.weight: expected float"),
    ],
)
def test_errors_name_the_key(data, message):
    with pytest.raises(ConfigError) as e:
        from_dict(Outer, data)
    assert message in str(e.value)


def test_yaml_float_strings_and_none():
    cfg = from_dict(Outer, {"name": "x", "inner": {"path": "p", "weight": "1e-3"}, "limit": None})
    assert cfg.inner.weight == 1e-3 and cfg.limit is None


def test_post_init_errors_get_the_path():
    assert from_dict(Checked, {"size": 2}) == Checked(2)
    with pytest.raises(ConfigError, match=r"^size: must be >= 1"):
        from_dict(Checked, {"size": 0})
    with pytest.raises(ConfigError, match=r"^model\.size: must be >= 1"):
        from_dict(Checked, {"size": 0}, "model")


def test_one_config_error_class_everywhere():
    from pixelgpt.dataset.job_config import ConfigError as JobConfigError
    from pixelgpt.finetune.config import ConfigError as FinetuneConfigError
    from pixelgpt.model import ConfigError as ModelConfigError
    from pixelgpt.renderer import RendererConfig
    from pixelgpt.train.config import ConfigError as TrainConfigError

    assert ConfigError is ModelConfigError is TrainConfigError is JobConfigError is FinetuneConfigError
    assert issubclass(ConfigError, ValueError)
    with pytest.raises(ConfigError, match="RendererConfig.dpi"):
        RendererConfig(dpi=0)
