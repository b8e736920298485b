"""Security: models by registry id only, Keras safe mode on every load, small uploads, XSRF on, and
nothing a user uploads is written to disk.

The source checks parse the code with ``ast`` (comments and strings cannot fool them) and each checker
is first shown to catch a small bad example, so a checker that silently finds nothing fails too.
"""

from __future__ import annotations

import ast
import builtins
import io
import math
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pytest

from digit_core import config
from digit_core.store import registry

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP_FILES = sorted([*PROJECT_ROOT.glob("app*.py"), *(PROJECT_ROOT / "pages").glob("*.py")])
CORE_FILES = sorted((PROJECT_ROOT / "digit_core").rglob("*.py"))
STREAMLIT_CONFIG = PROJECT_ROOT / ".streamlit" / "config.toml"


def _relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def _calls(tree: ast.AST) -> list[tuple[ast.Call, str, list[str]]]:
    """Every call with its callee's last name and the names of the functions it sits in."""
    found: list[tuple[ast.Call, str, list[str]]] = []

    def visit(node: ast.AST, scope: list[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = [*scope, node.name]
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            found.append((node, name, scope))
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(tree, [])
    return found


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


# --- Models are chosen by registry id, never by a user's path. ---

HOSTILE_IDS = ["../x", "../../etc/passwd", "/abs", "/tmp/x.keras", "a/b", "a\\b", "..", ".", ".hidden",
               "~/model", "C:\\model", "%2e%2e", "", " default", "default ", "default\n", "default\x00",
               "x" * 100, "run:../x", "run:/etc", "run:", "run:a/b", "run:.."]


@pytest.mark.parametrize("model_id", HOSTILE_IDS)
def test_registry_ids_never_act_as_paths(isolated_dirs, model_id: str) -> None:
    with pytest.raises(ValueError, match="Invalid model id"):
        registry.resolve(model_id)


@pytest.mark.parametrize("model_id", ["../escaped", "/tmp/escaped", "default\n"])
def test_saving_under_a_hostile_id_writes_nothing(isolated_dirs, model_id: str) -> None:
    models = isolated_dirs["models"]
    before = sorted(path.name for path in models.parent.rglob("*"))
    with pytest.raises(ValueError, match="Invalid model id"):
        registry.save(object(), model_id, {}, models_dir=models)
    with pytest.raises(ValueError, match="Invalid model id"):
        registry.set_active_model(model_id, models_dir=models)
    assert sorted(path.name for path in models.parent.rglob("*")) == before


def test_the_apps_predictor_resolves_ids_through_the_registry(isolated_dirs) -> None:
    if not (PROJECT_ROOT / "app_state.py").is_file():
        pytest.skip("app_state.py is not written yet")
    import app_state

    with pytest.raises(ValueError, match="Invalid model id"):
        app_state.predictor("../../models/default")
    with pytest.raises(ValueError, match="Invalid model id"):
        app_state.explainer("../../models/default")


# Core functions that take a path (or a CLI value that may be one); the app must not call them.
PATH_TAKING = {"resolve_model_path", "load_predictor_from_path", "read_image_file", "load_keras_model",
               "load_model", "from_file"}
# The only places the app loads a file: the cached loaders fed by ``registry.resolve``, in ``predictor``
# and in ``explainer`` (each takes the path that a registry id resolved to, never one a person typed).
ALLOWED_APP_PATH_CALLS = {("app_state.py", "from_file", "_predictor_for_file"),
                          ("app_state.py", "from_file", "_explainer_for_file")}


def _path_taking_calls(path: Path, source: str) -> list[str]:
    problems = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("digit_core.workflows", "digit_core.images.imageio"):
            for alias in node.names:
                if alias.name in PATH_TAKING | {"load_predictor"}:
                    problems.append(f"{path.name}:{node.lineno} imports {alias.name} from {node.module}")
    for call, name, scope in _calls(tree):
        if name in PATH_TAKING and (path.name, name, scope[-1] if scope else "") not in ALLOWED_APP_PATH_CALLS:
            problems.append(f"{path.name}:{call.lineno} calls {name}()")
    return problems


def test_the_path_checker_catches_a_path_load() -> None:
    bad = "from digit_core.workflows import load_predictor\nPredictor.from_file(st.text_input('path'))\n"
    assert len(_path_taking_calls(Path("pages/bad.py"), bad)) == 2


def test_the_app_picks_models_by_id_only() -> None:
    assert APP_FILES, "no app files found"
    problems = [problem for path in APP_FILES for problem in _path_taking_calls(path, path.read_text())]
    assert not problems, "\n".join(problems)


# --- Keras safe mode on every load: only registry.load_keras_model loads, always with safe_mode=True. ---

UNSAFE_CALLS = {"enable_unsafe_deserialization", "load", "loads", "Unpickler"}


def _model_load_problems(path: str, source: str) -> list[str]:
    problems = []
    tree = ast.parse(source)
    for call, name, scope in _calls(tree):
        where = f"{path}:{call.lineno}"
        safe_mode = _keyword(call, "safe_mode")
        if safe_mode is not None and not (isinstance(safe_mode, ast.Constant) and safe_mode.value is True):
            problems.append(f"{where} passes safe_mode other than True")
        if name == "load_model":
            if (path, scope[-1:]) != ("digit_core/store/registry.py", ["load_keras_model"]):
                problems.append(f"{where} loads a model outside registry.load_keras_model")
            elif safe_mode is None:
                problems.append(f"{where} loads a model without safe_mode=True")
        func = call.func
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        if name == "enable_unsafe_deserialization" or (owner in ("pickle", "joblib", "dill", "cloudpickle")
                                                       and name in UNSAFE_CALLS):
            problems.append(f"{where} calls {owner + '.' if owner else ''}{name}")
        allow_pickle = _keyword(call, "allow_pickle")
        if allow_pickle is not None and not (isinstance(allow_pickle, ast.Constant) and allow_pickle.value is False):
            problems.append(f"{where} allows pickles")
    return problems


@pytest.mark.parametrize("source, expected", [
    ("keras.models.load_model(p)", "outside registry.load_keras_model"),
    ("tf.keras.models.load_model(p, safe_mode=True)", "outside registry.load_keras_model"),
    ("keras.saving.load_model(p, safe_mode=False)", "safe_mode other than True"),
    ("keras.config.enable_unsafe_deserialization()", "enable_unsafe_deserialization"),
    ("pickle.load(f)", "pickle.load"),
    ("np.load(p, allow_pickle=True)", "allows pickles"),
    ("def load_keras_model(p):\n    return keras.saving.load_model(p)", "without safe_mode=True"),
])
def test_the_safe_mode_checker_catches(source: str, expected: str) -> None:
    problems = _model_load_problems("digit_core/store/registry.py", source)
    assert any(expected in problem for problem in problems), problems


def test_every_model_load_goes_through_the_registry_in_safe_mode() -> None:
    files = [*CORE_FILES, *APP_FILES, *(PROJECT_ROOT / "bench").glob("*.py")]
    problems = [problem for path in files for problem in _model_load_problems(_relative(path), path.read_text())]
    assert not problems, "\n".join(problems)
    registry_source = (PROJECT_ROOT / "digit_core" / "store" / "registry.py").read_text()
    assert "load_model(path, compile=True, safe_mode=True)" in registry_source


def _lambda_model(marker: Path):
    """A model whose Lambda layer runs code (touches ``marker``) whenever the model is built."""
    import keras

    # eval makes the marker path a constant of the lambda's own code, which Keras serialises.
    payload = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")  # noqa: S307
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(payload),
                             keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])


def test_a_model_with_a_lambda_layer_is_refused_and_its_code_never_runs(tmp_path: Path) -> None:
    import keras

    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.keras"
    _lambda_model(marker).save(path)
    marker.unlink()
    with pytest.raises(registry.ModelLoadError, match=r"Cannot load model evil\.keras"):
        registry.load_keras_model(path)
    assert not marker.exists()
    # The file really is dangerous: without safe mode, loading it runs the payload.
    keras.saving.load_model(path, safe_mode=False)
    assert marker.exists()


def test_a_lambda_model_in_the_registry_is_refused_by_id(isolated_dirs, tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    _lambda_model(marker).save(isolated_dirs["models"] / "evil.keras")
    marker.unlink()
    with pytest.raises(registry.ModelLoadError):
        registry.load("evil")
    assert not marker.exists()


# --- Uploads limited in size; XSRF protection stays on. ---

def test_streamlit_limits_uploads_and_keeps_xsrf_protection() -> None:
    settings = tomllib.loads(STREAMLIT_CONFIG.read_text())
    server = settings.get("server", {})
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True  # turning CORS off would also weaken XSRF checks
    # Streamlit's limit is in MB; it must not let through more than the core accepts anyway: a CSV of
    # digits at most, and each image uploader sets the images' own, smaller limit.
    largest = max(config.MAX_UPLOAD_BYTES, config.MAX_CSV_UPLOAD_BYTES)
    assert server["maxUploadSize"] <= math.ceil(largest / (1024 * 1024))


def test_every_uploader_sets_the_limit_of_what_it_takes() -> None:
    limits = {}
    for path in sorted((PROJECT_ROOT / "pages").glob("*.py")):
        for call, name, _ in _calls(ast.parse(path.read_text())):
            if name == "file_uploader":
                keywords = {keyword.arg: ast.unparse(keyword.value) for keyword in call.keywords}
                limits[path.stem] = keywords.get("max_upload_size")
    assert limits == {"draw": "app_state.IMAGE_UPLOAD_MB", "explore": "app_state.CSV_UPLOAD_MB"}
    import app_state

    assert app_state.IMAGE_UPLOAD_MB * 1024 * 1024 == config.MAX_UPLOAD_BYTES
    assert app_state.CSV_UPLOAD_MB * 1024 * 1024 == config.MAX_CSV_UPLOAD_BYTES


EFFECTIVE_SETTINGS = """
from streamlit import config
print(config.get_option("server.enableXsrfProtection"), config.get_option("server.maxUploadSize"))
"""


def test_the_effective_streamlit_settings_in_the_project() -> None:
    # As `streamlit run app.py` from the project sees them: project and user config files, environment.
    result = subprocess.run([sys.executable, "-c", EFFECTIVE_SETTINGS], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    xsrf, max_upload_mb = result.stdout.split()
    assert xsrf == "True"
    assert int(max_upload_mb) * 1024 * 1024 <= max(config.MAX_UPLOAD_BYTES, config.MAX_CSV_UPLOAD_BYTES)


# --- Nothing a user uploads is written to disk. ---

WRITING_CALLS = {"open", "write_bytes", "write_text", "save", "savez", "savez_compressed", "savefig",
                 "imwrite", "tofile", "to_csv", "to_parquet", "to_pickle", "mkdir", "makedirs", "touch",
                 "rename", "unlink", "rmtree", "copyfile", "copy2", "copytree", "move", "mkstemp", "mkdtemp",
                 "NamedTemporaryFile", "TemporaryDirectory",
                 # Pages only lay things out: they save through core functions such as jobs.make_active.
                 "atomic_write_bytes", "atomic_write_json", "atomic_write_with"}


# The app's one connection to the collection's database: the core's Collection.open, given
# config.database_url() (never a name from a user); the core writes the drawings through it.
ALLOWED_APP_WRITING_CALLS = {("app_state.py", "open", "_collection_for")}


def _writing_calls(path: str, source: str) -> list[str]:
    return [f"{path}:{call.lineno} calls {name}()" for call, name, scope in _calls(ast.parse(source))
            if name in WRITING_CALLS and (path, name, scope[-1] if scope else "") not in ALLOWED_APP_WRITING_CALLS]


def test_the_writing_checker_catches_writes() -> None:
    source = "open(name, 'wb').write(data)\nPath(p).write_bytes(b)\nimage.save(p)\nshutil.move(a, b)\n"
    assert len(_writing_calls("pages/bad.py", source)) == 4


def test_pages_write_no_files_themselves() -> None:
    # Pages save only through core functions (jobs.make_active → registry, atomic, into models/).
    problems = [problem for path in APP_FILES for problem in _writing_calls(_relative(path), path.read_text())]
    assert not problems, "\n".join(problems)


def _upload_readers(source: str) -> list[tuple[str, str]]:
    """(function, argument) pairs for calls that are given an uploaded file's contents."""
    readers = []
    for call, name, _ in _calls(ast.parse(source)):
        for argument in call.args:
            if isinstance(argument, ast.Call) and isinstance(argument.func, ast.Attribute) \
                    and argument.func.attr in ("getvalue", "read", "getbuffer"):
                readers.append((name, argument.func.attr))
    return readers


def test_pages_decode_uploads_from_bytes_in_memory() -> None:
    pages = PROJECT_ROOT / "pages"
    if not (pages / "draw.py").is_file():
        pytest.skip("pages/draw.py is not written yet")
    assert ("decode_image", "getvalue") in _upload_readers((pages / "draw.py").read_text())
    explore = (pages / "explore.py").read_text()
    assert "upload.getvalue()" in explore and "csv_digits(csv_content" in explore


@pytest.fixture
def no_file_access(monkeypatch: pytest.MonkeyPatch):
    """Any attempt to open or create a file fails the test."""
    def forbidden(*args, **kwargs):
        raise AssertionError(f"file access: {args[:1]}")

    for module, name in ((builtins, "open"), (io, "open"), (os, "open"), (tempfile, "mkstemp"),
                         (tempfile, "NamedTemporaryFile"), (tempfile, "mkdtemp")):
        monkeypatch.setattr(module, name, forbidden)


def test_decoding_uploads_touches_no_file(bad_inputs, mnist, no_file_access) -> None:
    from digit_core.data.csv_import import read_digits_csv
    from digit_core.images.imageio import ImageDecodeError, decode_image

    for case in bad_inputs.values():
        try:
            decode_image(case.data, name=case.name)
        except ImageDecodeError:
            assert case.expect == "error", case.name
    rows = np.column_stack([mnist.y_test[:5], mnist.x_test[:5].reshape(5, -1)])
    content = "\n".join(",".join(map(str, row)) for row in rows).encode()
    stream = io.BytesIO(content)
    stream.name = "mine.csv"
    images, labels = read_digits_csv(stream)
    assert images.shape == (5, 28, 28) and list(labels) == list(mnist.y_test[:5])
