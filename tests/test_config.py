"""Configuration layers: defaults, then a TOML file, then KITH_* variables, then arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config


def test_defaults() -> None:
    config = load_config(environ={})
    assert config.llm.model == "default" and config.llm.precision == "nf4"
    assert config.chroma_url is None
    assert config.cache_dir == Path.home() / ".cache" / "kith"


def test_each_layer_overrides_the_one_before(tmp_path: Path) -> None:
    file = tmp_path / "kith.toml"
    file.write_text('data_dir = "/from/file"\nchroma_url = "http://file:1"\n[llm]\nprecision = "bf16"\nmax_new_tokens = 50\n')
    environ = {"KITH_CONFIG": str(file), "KITH_CHROMA_URL": "http://env:2", "KITH_LLM__MAX_NEW_TOKENS": "70"}
    config = load_config(overrides={"llm": {"max_new_tokens": 90, "adapter": None}}, environ=environ)
    assert config.data_dir == Path("/from/file")
    assert config.chroma_url == "http://env:2"
    assert config.llm.precision == "bf16"
    assert config.llm.max_new_tokens == 90


def test_unset_arguments_do_not_mask_lower_layers() -> None:
    config = load_config(overrides={"data_dir": None}, environ={"KITH_DATA_DIR": "/from/env"})
    assert config.data_dir == Path("/from/env")


def test_bad_values_name_the_setting_and_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"environment \(KITH_\*\): llm.precision: Input should be 'nf4', 'fp32' or 'bf16'"):
        load_config(environ={"KITH_LLM__PRECISION": "int3"})
    bad = tmp_path / "bad.toml"
    bad.write_text("data_dir = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(config_file=bad, environ={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'red'\n")
    with pytest.raises(ConfigError, match=rf"config file {unknown}: colour: Extra inputs are not permitted"):
        load_config(config_file=unknown, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(config_file=tmp_path / "missing.toml", environ={})


def test_other_tools_variables_are_ignored() -> None:
    assert load_config(environ={"KITH_SOMETHING_ELSE": "x", "KITH_LLM__NOPE": "y"}).llm.model == "default"
