"""The command line's help, its version, and its progress on stderr (a bar on a terminal, lines elsewhere)."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import cv2
import pytest

from digit_core import __version__, cli
from digit_core.cli.train import configs_from_args
from digit_core.study import compare
from digit_core.models import zoo
from digit_core.training.progress import Progress, training_progress
from digit_core.data.synthetic import digit_styles, render_strokes


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _commands(parser: argparse.ArgumentParser | None = None, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every parser by its command, "" for the program itself and e.g. "collection add" for an action."""
    parser = parser or cli.build_parser()
    found = {prefix: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                found.update(_commands(subparser, f"{prefix} {name}".strip()))
    return found


@pytest.mark.parametrize("command", list(_commands()))
def test_every_option_has_help_and_names_its_real_default_once(command: str) -> None:
    parser = _commands()[command]
    text = parser.format_help()
    assert "(default: None)" not in text and "default: False" not in text
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        help_text = formatter._expand_help(action) if action.help else ""
        assert help_text.strip(), f"{command} {action.dest}: no help"
        assert help_text.count("default") <= 1, f"{command} {action.dest}: {help_text}"
        if action.option_strings and action.default not in (None, False):
            assert f"(default: {action.default})" in help_text


def test_the_defaults_the_help_names_are_the_ones_used() -> None:
    help_text = _commands()["train"].format_help()
    assert "(default: fast)" in help_text and "(default: 0)" in help_text
    args = cli.build_parser().parse_args(["train"])
    network, training = configs_from_args(args)
    assert network == zoo.get_entry("fast").network and training.seed == 0
    assert training == zoo.with_overrides(zoo.get_entry("fast").training, seed=0)


def test_examples_and_version(capsys) -> None:
    assert "examples:" in _commands()[""].format_help() and "tensorboard --logdir runs" in _commands()[""].format_help()
    assert "--resume" in _commands()["train"].epilog
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip().endswith(f" {__version__}")


# --- Progress itself ------------------------------------------------------------------------------

def test_a_log_gets_whole_lines_with_the_time_left() -> None:
    log = io.StringIO()
    with Progress(4, "predict", "files", stream=log, interval_s=0) as progress:
        for _ in range(4):
            progress.advance()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 4  # one a step here (interval 0), and the final count not twice
    assert lines[-1].startswith("predict (4/4 files, ") and lines[-1].endswith(" left)")
    assert "elapsed" in lines[0] and "1/4 files" in lines[0]


def test_a_log_is_not_flooded_between_notes() -> None:
    log = io.StringIO()
    with Progress(1000, "evaluate", "images", stream=log, interval_s=3600) as progress:
        for _ in range(1000):
            progress.advance()
    assert log.getvalue().splitlines() == [log.getvalue().splitlines()[-1]]  # only the final count
    assert "1000/1000 images" in log.getvalue()


def test_notes_stay_and_a_terminal_gets_a_bar() -> None:
    log, terminal = io.StringIO(), Terminal()
    for stream in (log, terminal):
        with Progress(2, "compare", "entries", stream=stream, interval_s=3600) as progress:
            progress.advance(note="first entry: 91.00%")
            progress.advance(note="second entry: 95.00%")
    assert log.getvalue().splitlines()[0].startswith("first entry: 91.00% (1/2 entries, ")
    assert len(log.getvalue().splitlines()) == 2
    assert "\r" in terminal.getvalue() and "|" in terminal.getvalue()  # tqdm's bar, redrawn in place
    assert "first entry: 91.00%\n" in terminal.getvalue() and "2/2 entries" in terminal.getvalue()


def test_training_progress_counts_batches_and_notes_each_epoch() -> None:
    log = io.StringIO()
    progress, on_batch_end, on_epoch_end = training_progress(epochs=4, first_epoch=2, stream=log)
    for epoch in (2, 3):
        for batch in range(5):
            on_batch_end(batch, 5, {"loss": 0.5, "accuracy": 0.8})
        on_epoch_end(epoch, {"loss": 0.5, "accuracy": 0.8, "val_accuracy": 0.75, "seconds": 1.5})
    progress.close()
    lines = log.getvalue().splitlines()
    assert [line.split(" done")[0] for line in lines] == ["epoch 3/4", "epoch 4/4"]
    assert "(5/10 batches, " in lines[0] and "(10/10 batches, " in lines[1] and "val_acc 0.7500" in lines[0]


# --- Progress of the commands ---------------------------------------------------------------------

@pytest.mark.slow
def test_evaluate_json_keeps_stdout_clean_and_counts_images_on_stderr(isolated_dirs, mnist, capsys) -> None:
    assert cli.main(["evaluate", "--json"]) == cli.EXIT_OK
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n"] == 10_000  # one JSON document, nothing else
    assert "evaluate (10000/10000 images, " in captured.err and "\r" not in captured.err
    assert cli.main(["evaluate", "--json", "--quiet"]) == cli.EXIT_OK
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_predict_on_many_files_shows_progress(isolated_dirs, tmp_path: Path, capsys) -> None:
    first = tmp_path / "seven-0.png"
    cv2.imwrite(str(first), render_strokes(digit_styles(7)[0], background="white")[..., :3])
    paths = [str(first)]
    for index in range(1, cli.PROGRESS_FROM_FILES):
        paths.append(str(shutil.copy(first, tmp_path / f"seven-{index}.png")))
    assert cli.main(["predict", "--json", *paths]) == cli.EXIT_OK
    captured = capsys.readouterr()
    assert [json.loads(line)["path"] for line in captured.out.splitlines()] == paths
    assert f"predict ({len(paths)}/{len(paths)} files, " in captured.err and "\r" not in captured.err
    assert cli.main(["predict", "--json", *paths[:-1]]) == cli.EXIT_OK  # fewer files: no progress
    assert capsys.readouterr().err == ""


def test_compare_writes_one_line_per_finished_entry(tmp_path: Path, monkeypatch, capsys) -> None:
    entries = [{"name": "a", "experiment": "dropout", "setting": "no dropout", "test_accuracy": 0.97,
                "train_seconds": 12.3, "same_run_as": None},
               {"name": "b", "experiment": "depth", "setting": "2 hidden layers", "test_accuracy": 0.97,
                "train_seconds": None, "same_run_as": "a"}]

    def fake_run(quick, out, data_dir, resume, on_start=None, on_result=None):
        if on_start is not None:  # None with --quiet
            on_start(len(entries))
        for entry in entries:
            if on_result is not None:
                on_result(entry)
        return entries

    monkeypatch.setattr(compare, "run_comparison", fake_run)
    assert cli.main(["compare", "--quick", "--out", str(tmp_path / "c.json")]) == cli.EXIT_OK
    captured = capsys.readouterr()
    assert captured.out == f"Wrote 2 results to {tmp_path / 'c.json'}\n"
    lines = captured.err.splitlines()
    assert lines[0].startswith("dropout: no dropout: 97.00% (trained in 12 s) (1/2 entries, ")
    assert lines[1].startswith("depth: 2 hidden layers: 97.00% (the run of a) (2/2 entries, ")
    assert len(lines) == 2 and all(line.endswith(" left)") for line in lines)
    assert cli.main(["compare", "--quick", "--quiet", "--out", str(tmp_path / "c.json")]) == cli.EXIT_OK
    assert capsys.readouterr().err == ""
