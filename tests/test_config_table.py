"""The settings table: every setting declared once; validation, flags, env and forms follow."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from starling_tui.cli import options
from starling_tui.config import SETTINGS, Settings, load_settings, parse_gpu_layers, spec
from starling_tui.config.machine import logical_cores
from starling_tui.errors import ConfigError


def test_every_field_is_one_spec_in_file_order_and_its_default_is_valid() -> None:
    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(Settings)]
    for item in SETTINGS:
        assert item.parse(item.default) == item.default, item.name
        assert item.env == "STARLING_TUI_" + item.name.upper()
        assert item.help and item.form.label
    sections = [s.section for s in SETTINGS]
    assert sections == sorted(sections, key=["", "engine", "sampling"].index)


def test_one_rule_for_a_value_wherever_it_comes_from() -> None:
    # The form's bounds are the parser's bounds: the app and the file cannot disagree.
    temperature = spec("temperature")
    assert (temperature.form.minimum, temperature.form.maximum) == (0.0, 5.0)
    with pytest.raises(ConfigError, match="temperature: expected a number between 0 and 5"):
        load_settings(environ={"STARLING_TUI_TEMPERATURE": "6"})
    with pytest.raises(ConfigError, match="Temperature: temperature: expected"):
        temperature.parse_text("5.5")
    assert temperature.parse_text(" ") == 0.0 and temperature.parse_text("5") == 5.0
    for item in SETTINGS:
        if item.form.kind in ("int", "float") and item.form.maximum is not None:
            with pytest.raises(ConfigError):
                item.parse(item.form.maximum + 1)
        if item.form.kind in ("int", "float") and item.form.minimum is not None:
            with pytest.raises(ConfigError):
                item.parse(item.form.minimum - 1)


def test_form_kinds_and_texts() -> None:
    assert spec("context_overflow").form.choices == ("shift", "drop", "error")
    assert spec("loop_guard").form.kind == "bool" and spec("loop_guard").to_text(False) == "false"
    assert spec("ctx").to_text(None) == "" and spec("flash_attn").to_text(None) == "auto"
    assert spec("ctx").parse_text("0") is None and spec("ctx").parse_text("4096") == 4096
    assert spec("context_shift_share").form.kind == "float"
    with pytest.raises(ConfigError, match=r"between 0 and 1 \(exclusive\)"):
        spec("context_shift_share").parse(1)


def test_gpu_layers_have_one_parser() -> None:
    assert [parse_gpu_layers(x) for x in ("auto", " ALL ", "12", 3)] == ["auto", "all", 12, 3]
    for bad in ("some", -1, "-2", True, 1.5):
        with pytest.raises(ValueError, match='expected "auto", "all" or a number of layers'):
            parse_gpu_layers(bad)
    assert spec("n_gpu_layers").type.parse is parse_gpu_layers


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(exit_on_error=False)
    options.add_all(parser)
    return parser.parse_args(argv)


def test_flags_are_built_from_the_table() -> None:
    parser = argparse.ArgumentParser()
    options.add_all(parser)
    flags = {flag for action in parser._actions for flag in action.option_strings}
    for item in SETTINGS:
        assert set(item.flags) <= flags
    assert {"--engine", "--context-overflow", "--self-extend", "--self-extend-window",
            "--loop-guard", "--no-loop-guard", "-m"} <= flags
    args = parse(["--engine", "http://localhost:8080/v1", "--no-loop-guard", "--self-extend",
                  "4", "--context-overflow", "drop", "-m", "x.gguf"])
    settings = options.settings_from_args(args)
    assert settings.engine_url == "http://localhost:8080/v1" and settings.loop_guard is False
    assert (settings.self_extend, settings.context_overflow, settings.model) == (4, "drop",
                                                                                 "x.gguf")
    assert options.settings_from_args(parse([])) == load_settings()


def test_a_bad_flag_value_is_argparses_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="ask")
    options.add_all(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--context-overflow", "wrap"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("ask: error: argument --context-overflow: expected \"shift\", \"drop\" or "
                   "\"error\", got 'wrap'")


def test_threads_are_bounded_by_the_machines_cores_wherever_they_come_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cores = logical_cores()
    too_many = str(cores + 1)
    line = f"threads: expected at most {cores} (this machine's logical CPU cores), got"
    assert spec("threads").form.maximum == cores  # the form offers what the parser accepts
    assert spec("threads").parse(cores) == cores and spec("threads").parse(0) is None
    with pytest.raises(ConfigError, match=re.escape(f"STARLING_TUI_THREADS: {line}")):
        load_settings(environ={"STARLING_TUI_THREADS": too_many})
    config_file = tmp_path / "config.toml"
    config_file.write_text(f"[engine]\nthreads = {too_many}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{config_file}: {line} {too_many}")):
        load_settings(path=config_file)
    with pytest.raises(ConfigError, match=re.escape(f"Threads: {line}")):
        spec("threads").parse_text("4096")
    parser = argparse.ArgumentParser(prog="ask")
    options.add_all(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--threads", "4096"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"ask: error: argument --threads: expected at most {cores} (this machine's "
                   "logical CPU cores), got '4096'")


def test_a_machine_limit_is_read_when_a_value_is_checked() -> None:
    from starling_tui.config.values import Limit, integer

    cores = [4]
    value_type = integer(0, limit=Limit(lambda: cores[0], "the cores"))
    assert value_type.parse(4) == 4 and value_type.upper == 4
    cores[0] = 2  # e.g. the process was moved to fewer cores
    assert value_type.upper == 2
    with pytest.raises(ValueError, match=r"expected at most 2 \(the cores\)"):
        value_type.parse(4)


def test_available_memory_reads_meminfo(tmp_path: Path) -> None:
    from starling_tui.config.machine import available_memory

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 8000 kB\nMemFree: 100 kB\nMemAvailable: 2048 kB\n")
    assert available_memory(meminfo) == 2048 * 1024
    meminfo.write_text("MemTotal: 8000 kB\n")
    assert available_memory(meminfo) is None
    assert available_memory(tmp_path / "missing") is None
