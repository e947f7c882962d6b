"""The AMX workaround: extra buffer types are off on AMX CPUs unless the user turns them on."""

from __future__ import annotations

import pytest

from starling_tui.llama import backend as llama_backend

SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile amx_int8 avx2\n"
EPYC = "processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 avx2\n"


def test_cpuinfo_parsing_finds_amx_tiles_only_where_listed() -> None:
    assert llama_backend.cpuinfo_has_amx(SAPPHIRE_RAPIDS)
    assert not llama_backend.cpuinfo_has_amx(EPYC)
    assert not llama_backend.cpuinfo_has_amx("")


@pytest.mark.parametrize(
    ("amx", "env", "expected"),
    [
        (True, None, False),  # the default that avoids llama.cpp issue 20824
        (False, None, True),
        (True, "1", True),  # the user's explicit choice wins
        (False, "off", False),
    ],
)
def test_default_extra_bufts(
    monkeypatch: pytest.MonkeyPatch, amx: bool, env: str | None, expected: bool
) -> None:
    monkeypatch.setattr(llama_backend, "cpu_has_amx", lambda: amx)
    if env is None:
        monkeypatch.delenv(llama_backend.EXTRA_BUFTS_ENV, raising=False)
    else:
        monkeypatch.setenv(llama_backend.EXTRA_BUFTS_ENV, env)
    assert llama_backend.default_extra_bufts() is expected


def test_model_params_carry_the_choice_into_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(llama_backend.EXTRA_BUFTS_ENV, raising=False)
    monkeypatch.setattr(llama_backend, "cpu_has_amx", lambda: True)
    assert llama_backend.model_params().use_extra_bufts is False
    assert llama_backend.model_params(extra_bufts=True).use_extra_bufts is True
    monkeypatch.setattr(llama_backend, "cpu_has_amx", lambda: False)
    assert llama_backend.model_params().use_extra_bufts is True
