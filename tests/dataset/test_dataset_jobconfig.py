"""JobConfig validation and partition planning (no Ray needed)."""

import pytest

from pixelgpt.dataset.job_config import ConfigError, JobConfig
from pixelgpt.dataset.partition import plan_partitions
from pixelgpt.dataset.sources import SourceSpec


def test_yaml_config_unknown_and_bad_keys_are_named(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("inputs: {c4: [a]}\noutput: o\nmax_patches: 64\n")
    assert JobConfig.from_yaml(str(path)).max_patches == 64
    path.write_text("inputs: {c4: [a]}\noutput: o\nworkerz: 2\n")
    with pytest.raises(ConfigError, match="workerz"):
        JobConfig.from_yaml(str(path))
    with pytest.raises(ConfigError, match="generic.n.format"):
        JobConfig.from_dict({"inputs": {"n": ["a"]}, "output": "o", "generic": {"n": {"format": "x"}}})
    with pytest.raises(ConfigError, match="tokenizer"):
        JobConfig.from_dict({"inputs": {"c4": ["a"]}, "output": "o", "tokenizer": str(tmp_path / "no.json")})
    with pytest.raises(ConfigError, match="inputs.c4"):
        JobConfig.from_dict({"inputs": {"c4": "not-a-list"}, "output": "o"})


def test_generic_source_spec():
    cfg = JobConfig.from_dict(
        {
            "inputs": {"notes": ["x"]},
            "output": "o",
            "generic": {"notes": {"format": "parquet", "text_field": "body", "id_field": "key"}},
        }
    )
    assert cfg.source_spec("notes") == SourceSpec("parquet", "body", "key")


def test_partitions_are_deterministic_slices_of_sorted_files(tmp_path):
    for name in ["b.json.gz", "a.json.gz", "c.json.gz"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "wiki").mkdir()
    (tmp_path / "wiki" / "w.parquet").write_bytes(b"")
    pes2o = [str(tmp_path / "*.json.gz"), str(tmp_path / "a.json.gz")]  # overlapping globs: each file once
    inputs = {"pes2o": pes2o, "wikipedia": [str(tmp_path / "wiki")]}  # a folder: every file below it
    cfg = JobConfig(inputs=inputs, output="o", files_per_partition=2, generic={})
    plan = plan_partitions(cfg)
    assert [p.name for p in plan] == ["pes2o-00000", "pes2o-00001", "wikipedia-00000"]
    names = [[f.rsplit("/", 1)[1] for f in p.files] for p in plan]
    assert names == [["a.json.gz", "b.json.gz"], ["c.json.gz"], ["w.parquet"]]
    assert plan == plan_partitions(cfg)


def test_invalid_yaml_and_impossible_settings_are_config_errors(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("inputs: {c4: [a]\noutput: o\n")
    with pytest.raises(ConfigError, match="job.yaml: invalid YAML"):
        JobConfig.from_yaml(str(path))
    with pytest.raises(ConfigError, match="max_patches"):  # 3,000 x 16 px: wider than a cairo surface
        JobConfig.from_dict({"inputs": {"c4": ["a"]}, "output": "o", "max_patches": 3000})
    with pytest.raises(ConfigError, match="max_tokens"):
        JobConfig.from_dict({"inputs": {"c4": ["a"]}, "output": "o", "max_tokens": 0})


def test_one_s3_client_per_process():
    from pixelgpt.dataset import storage

    assert storage.s3_client() is storage.s3_client()
