"""Choosing a distribution strategy: TF_CONFIG read with clear errors, the chief found, only the chief writing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digit_core import cli
from digit_core.training import distribute
from digit_core.models import zoo
from digit_core.training.distribute import Distribution, WorkerRole, read_tf_config, worker_role

TWO_WORKERS = {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]}


def _tf_config(cluster: object = None, task: object = None) -> dict[str, str]:
    payload = {"cluster": TWO_WORKERS if cluster is None else cluster,
               "task": {"type": "worker", "index": 0} if task is None else task}
    return {"TF_CONFIG": json.dumps(payload)}


def test_none_and_mirrored_are_the_only_process_and_its_chief() -> None:
    for name in ("none", "mirrored"):
        role = worker_role(name, environ={})
        assert role.is_chief and role.workers == 1


def test_worker_zero_is_the_chief_when_the_cluster_has_no_chief() -> None:
    first = read_tf_config(_tf_config())
    second = read_tf_config(_tf_config(task={"type": "worker", "index": 1}))
    assert first.is_chief and not second.is_chief
    assert (second.task_type, second.task_index, second.workers) == ("worker", 1, 2)


def test_a_chief_task_is_the_chief_and_trains_beside_the_workers() -> None:
    cluster = {"chief": ["host0:2222"], **TWO_WORKERS}
    assert read_tf_config(_tf_config(cluster, {"type": "chief", "index": 0})).is_chief
    worker = read_tf_config(_tf_config(cluster, {"type": "worker", "index": 0}))
    assert not worker.is_chief and worker.workers == 3


@pytest.mark.parametrize("environ, message", [
    ({}, "needs the TF_CONFIG environment variable"),
    ({"TF_CONFIG": "  "}, "needs the TF_CONFIG environment variable"),
    ({"TF_CONFIG": "{cluster: 1}"}, "TF_CONFIG is not valid JSON"),
    ({"TF_CONFIG": "[1, 2]"}, "must be a JSON object"),
    (_tf_config(cluster={}), "has no \"cluster\""),
    (_tf_config(cluster={"worker": "127.0.0.1:1"}), "must be a non-empty list"),
    (_tf_config(cluster={"worker": ["127.0.0.1"]}), "'127.0.0.1', which is not a \"host:port\""),
    (_tf_config(cluster={"worker": ["127.0.0.1:99999"]}), "not a \"host:port\" address (port 1-65535)"),
    (_tf_config(cluster={"worker": ["a:1", "a:1"]}), "names a:1 twice"),
    (_tf_config(cluster={"ps": ["a:1"], "worker": ["b:1"]}), "has a 'ps' job"),
    (_tf_config(cluster={"chief": ["a:1", "b:1"]}, task={"type": "chief", "index": 0}), "has 2 chiefs"),
    ({"TF_CONFIG": json.dumps({"cluster": TWO_WORKERS})}, "has no \"task\""),
    (_tf_config(task={"type": "chief", "index": 0}), "task type 'chief' is not a job of its cluster (worker)"),
    (_tf_config(task={"type": "worker", "index": 2}), "task index 2 is not one of the 2 'worker' tasks (0 to 1)"),
    (_tf_config(task={"type": "worker", "index": "0"}), "task index '0' is not one of"),
])
def test_a_bad_tf_config_names_what_is_wrong(environ, message) -> None:
    with pytest.raises(ValueError) as raised:
        worker_role("multi-worker", environ=environ)
    assert message in str(raised.value)


def test_an_unknown_strategy_is_refused_before_any_training(tmp_path) -> None:
    tiny = zoo.get_entry("tiny")
    with pytest.raises(ValueError, match="Unknown distribution strategy 'horovod'; choose one of none, mirrored"):
        distribute.check_strategy("horovod")
    from digit_core.training.train import train

    images, labels = np.zeros((4, 28, 28), np.uint8), np.arange(4)
    with pytest.raises(ValueError, match="Unknown distribution strategy 'gpus'"):
        train(tiny.network, tiny.training, images, labels, run_dir=tmp_path / "run", distribute="gpus")
    assert not (tmp_path / "run").exists()


def _distribution(role: WorkerRole) -> Distribution:
    return Distribution(name="multi-worker", strategy=None, role=role)


def test_only_the_chief_writes_the_run_directory(tmp_path) -> None:
    run_dir = tmp_path / "run"
    with distribute.write_dir(run_dir, _distribution(WorkerRole("worker", 0, 2, False))) as chief_dir:
        assert chief_dir == run_dir
    with distribute.write_dir(run_dir, _distribution(WorkerRole("worker", 1, 2, False))) as other_dir:
        assert other_dir != run_dir and other_dir.is_dir() and run_dir not in other_dir.parents
        (other_dir / "last.keras").write_bytes(b"checkpoint")
    assert not other_dir.exists()  # the non-chief's checkpoints are deleted afterwards
    with distribute.write_dir(None, _distribution(WorkerRole("worker", 1, 2, False))) as nowhere:
        assert nowhere is None


def test_a_failed_steps_status_keeps_the_message_not_the_graph_traceback() -> None:
    error = RuntimeError('Graph execution error:\n\nDetected at node CollectiveReduceV2 defined at (most recent '
                         'call last):\n  File "a.py", line 1, in f\n\n  File "b.py", line 2, in g\n\nCollective '
                         'ops is aborted by: The following tasks are unhealthy (stopped sending heartbeats):\n'
                         '/job:worker/replica:0/task:1')
    message = distribute.failure_message(error)
    assert message.startswith("RuntimeError: Collective ops is aborted by:")
    assert "/job:worker/replica:0/task:1" in message and "File" not in message


def test_cli_refuses_an_unknown_strategy(capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["train", "--distribute", "cluster"])
    assert raised.value.code == cli.EXIT_USAGE
    assert "invalid choice: 'cluster' (choose from 'none', 'mirrored', 'multi-worker')" in capsys.readouterr().err


def test_cli_multi_worker_without_tf_config_fails_before_reading_data(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.setenv("DIGIT_RUNS_DIR", str(tmp_path / "runs"))
    # A data directory that does not exist: the TF_CONFIG error must come first.
    code = cli.main(["train", "--quiet", "--distribute", "multi-worker", "--data-dir", str(tmp_path / "none")])
    assert code == cli.EXIT_FAILED
    assert "error: --distribute multi-worker needs the TF_CONFIG environment variable" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_cli_resume_takes_distribute_as_it_is_not_part_of_the_recipe(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DIGIT_RUNS_DIR", str(tmp_path))
    code = cli.main(["train", "--resume", "no-such-run", "--distribute", "mirrored", "--quiet"])
    assert code == cli.EXIT_FAILED  # not a usage error: the run is what is missing
    assert "No run 'no-such-run'" in capsys.readouterr().err
    assert "distribute" not in cli.RECIPE_OPTIONS
