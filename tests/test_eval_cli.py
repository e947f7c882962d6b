"""``starling-tui eval`` as a command: JSON, bad input (one line, nothing on stdout), Ctrl-C."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from starling_tui.cli.main import main
from starling_tui.quality.progress import ChunkProgress, eta_text, progress_for
from starling_tui.quality.text import default_text


@pytest.fixture(scope="module")
def text_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("text") / "sample.txt"
    path.write_text(default_text()[:20_000], encoding="utf-8")
    return path


def run_eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["eval", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.slow
def test_json_has_the_issue_keys(capsys, starling_f16_gguf: Path, starling_q4km_gguf: Path,
                                 text_file: Path) -> None:
    status, out, err = run_eval(capsys, str(starling_q4km_gguf), "--text", str(text_file),
                                "--ctx", "256", "--chunks", "2", "--json",
                                "--reference", str(starling_f16_gguf))
    assert status == 0, err
    figures = json.loads(out)
    assert {"ppl", "tokens", "chunks", "kld_mean", "kld_p99", "kld_max", "same_top1",
            "ppl_ratio"} <= set(figures)
    assert figures["chunks"] == 2 and figures["tokens"] == 2 * 127
    assert err == ""  # piped: no progress bar


@pytest.mark.slow
@pytest.mark.parametrize("case", ["short", "missing", "not-gguf", "not-utf8", "vocab"])
def test_bad_input_is_one_line_and_no_output(capsys, tmp_path: Path, starling_f16_gguf: Path,
                                             smollm2_gguf: Path, case: str) -> None:
    model, extra = str(starling_f16_gguf), []
    if case == "short":
        (tmp_path / "t.txt").write_text("far too short", encoding="utf-8")
        extra = ["--text", str(tmp_path / "t.txt")]
    elif case == "missing":
        model = str(tmp_path / "absent.gguf")
    elif case == "not-gguf":
        (tmp_path / "x.gguf").write_text("hello", encoding="utf-8")
        model = str(tmp_path / "x.gguf")
    elif case == "not-utf8":
        (tmp_path / "t.txt").write_bytes(b"\xff\xfe\x00bad")
        extra = ["--text", str(tmp_path / "t.txt")]
    else:
        extra = ["--reference", str(smollm2_gguf)]
    status, out, err = run_eval(capsys, model, "--ctx", "256", "--chunks", "1", "--json", *extra)
    assert status == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("starling-tui: error: ")
    assert "Traceback" not in err


@pytest.mark.slow
def test_ctrl_c_during_a_chunk_stops_with_one_line(capsys, monkeypatch, starling_f16_gguf: Path,
                                                   text_file: Path) -> None:
    from starling_tui.quality import model_run

    calls = []
    real = model_run.EvalModel.run_chunk

    def interrupted_second_chunk(self, tokens, first, last):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, tokens, first, last)

    monkeypatch.setattr(model_run.EvalModel, "run_chunk", interrupted_second_chunk)
    status, out, err = run_eval(capsys, str(starling_f16_gguf), "--text", str(text_file),
                                "--ctx", "256", "--json")
    assert status == 130 and out == ""
    assert err.strip() == "starling-tui eval: interrupted, no figures"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_an_eta_on_a_terminal_only() -> None:
    assert progress_for(io.StringIO(), "eval") is None
    stream = FakeTerminal()
    now = [100.0]
    bar = ChunkProgress(stream, "eval m.gguf", clock=lambda: now[0])
    now[0] = 110.0
    bar(2, 10)  # 5 s a chunk, 8 to go
    bar.close()
    assert "2/10 chunks, ETA 40s" in stream.getvalue() and stream.getvalue().endswith("\n")
    assert eta_text(3725) == "1h02m" and eta_text(185) == "3m05s"
