"""MNIST and USPS loading, splits, normalisation and summaries, on handmade files and real data."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from digit_core import config, data
from digit_core.data import scaling

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_FILE_NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def assert_same_mnist(loaded: data.MnistData, expected: dict[str, np.ndarray]) -> None:
    for field, array in expected.items():
        np.testing.assert_array_equal(getattr(loaded, field), array)
        assert getattr(loaded, field).dtype == np.uint8


# --- read_idx ---------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_returns_the_exact_array(tmp_path, encode_idx, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    payload = encode_idx(images)
    path = tmp_path / "images"  # no .gz even when compressed: gzip is detected by its magic bytes
    path.write_bytes(gzip.compress(payload) if compress else payload)
    result = data.read_idx(path)
    np.testing.assert_array_equal(result, images)
    assert result.dtype == np.uint8 and result.flags.writeable


def test_read_idx_reads_labels_and_big_endian_integers(tmp_path, encode_idx):
    labels = np.array([7, 2, 1, 0], dtype=np.uint8)
    integers = np.array([[1, -2], [70000, 3]], dtype=">i4")
    (tmp_path / "labels").write_bytes(encode_idx(labels))
    (tmp_path / "integers").write_bytes(encode_idx(integers))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "labels"), labels)
    assert data.read_idx(str(tmp_path / "integers")).tolist() == [[1, -2], [70000, 3]]


def test_read_idx_rejects_bad_magic(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"PK\x03\x04 this is a zip file")
    with pytest.raises(ValueError, match=r"not-idx: not an IDX file: bad magic number 0x504b0304"):
        data.read_idx(path)


def test_read_idx_rejects_unsupported_type_code(tmp_path):
    path = tmp_path / "odd"
    path.write_bytes(bytes([0, 0, 0x07, 1]) + (2).to_bytes(4, "big") + b"\x00\x00")
    with pytest.raises(ValueError, match=r"odd: unsupported IDX type code 0x07"):
        data.read_idx(path)


def test_read_idx_reports_truncated_data_with_byte_counts(tmp_path, encode_idx):
    payload = encode_idx(np.zeros((10, 28, 28), dtype=np.uint8))
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(payload[:16 + 1000]))
    with pytest.raises(ValueError, match=r"cut.gz: truncated: expected 7840 bytes of data for "
                                         r"shape \(10, 28, 28\), found 1000"):
        data.read_idx(path)


def test_read_idx_reports_truncated_header_and_extra_bytes(tmp_path, encode_idx):
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 3]) + (5).to_bytes(4, "big"))
    with pytest.raises(ValueError, match=r"short: truncated header: 3 dimensions need 16 bytes, "
                                         r"found 8"):
        data.read_idx(short)
    long = tmp_path / "long"
    long.write_bytes(encode_idx(np.zeros(3, dtype=np.uint8)) + b"\x01\x02")
    with pytest.raises(ValueError, match=r"long: 2 bytes more than the 3 bytes"):
        data.read_idx(long)


def test_read_idx_reports_damaged_gzip(tmp_path, encode_idx):
    path = tmp_path / "damaged.gz"
    path.write_bytes(gzip.compress(encode_idx(np.zeros(100, dtype=np.uint8)))[:-12])
    with pytest.raises(ValueError, match=r"damaged.gz: damaged gzip data"):
        data.read_idx(path)


# --- load_mnist -------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_load_mnist_from_idx_files(tmp_path, no_data_anywhere, write_mnist_dir, tiny_mnist,
                                   compress):
    directory = write_mnist_dir(tmp_path / "mnist", compress=compress)
    loaded = data.load_mnist(directory, allow_download=False)
    assert_same_mnist(loaded, tiny_mnist)
    assert loaded.source == f"IDX files in {directory}"


def test_load_mnist_from_npz(tmp_path, no_data_anywhere, tiny_mnist):
    directory = tmp_path / "npz"
    directory.mkdir()
    np.savez(directory / "mnist.npz", **tiny_mnist)
    loaded = data.load_mnist(str(directory), allow_download=False)
    assert_same_mnist(loaded, tiny_mnist)
    assert loaded.source == str(directory / "mnist.npz")


def test_load_mnist_finds_the_keras_cache_under_keras_home(tmp_path, no_data_anywhere,
                                                           monkeypatch, tiny_mnist):
    keras_home = tmp_path / "keras-home"
    (keras_home / "datasets").mkdir(parents=True)
    np.savez(keras_home / "datasets" / "mnist.npz", **tiny_mnist)
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    loaded = data.load_mnist(allow_download=False)
    assert_same_mnist(loaded, tiny_mnist)
    assert loaded.source == str(keras_home / "datasets" / "mnist.npz")


def test_explicit_directory_wins_over_the_environment(tmp_path, no_data_anywhere, monkeypatch,
                                                      write_mnist_dir, tiny_mnist):
    flipped = {field: array[::-1].copy() for field, array in tiny_mnist.items()}
    explicit = write_mnist_dir(tmp_path / "explicit", tiny_mnist)
    from_env = write_mnist_dir(tmp_path / "from-env", flipped)
    monkeypatch.setenv(config.DATA_DIR_ENV, str(from_env))
    assert_same_mnist(data.load_mnist(explicit, allow_download=False), tiny_mnist)
    assert_same_mnist(data.load_mnist(allow_download=False), flipped)


def test_not_found_lists_every_place_and_the_file_names(no_data_anywhere, tmp_path):
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load_mnist(tmp_path / "nowhere", allow_download=False)
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    for directory in config.data_dir_candidates(tmp_path / "nowhere"):
        assert str(directory) in message
    for name in MNIST_FILE_NAMES + ["mnist.npz"]:
        assert name in message
    assert str(tmp_path / "home" / ".keras" / "datasets" / "mnist.npz") in message
    assert "set DIGIT_DATA_DIR=/path/to/dir" in message
    assert "allow_download=False" in message


def test_incomplete_directory_names_the_missing_files(tmp_path, no_data_anywhere,
                                                      write_mnist_dir):
    directory = write_mnist_dir(tmp_path / "half", only=("x_train", "y_train"))
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load_mnist(directory, allow_download=False)
    message = str(caught.value)
    assert (f"{directory} (incomplete: missing t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz)") in message


def test_image_and_label_counts_must_match(tmp_path, no_data_anywhere, write_mnist_dir,
                                           tiny_mnist):
    arrays = dict(tiny_mnist, y_train=tiny_mnist["y_train"][:5])
    directory = write_mnist_dir(tmp_path / "mismatch", arrays)
    with pytest.raises(ValueError, match=r"6 train images but labels of shape \(5,\)"):
        data.load_mnist(directory, allow_download=False)


def test_labels_outside_0_to_9_are_rejected(tmp_path, no_data_anywhere, write_mnist_dir,
                                            tiny_mnist):
    arrays = dict(tiny_mnist, y_test=np.array([5, 6, 7, 10], dtype=np.uint8))
    directory = write_mnist_dir(tmp_path / "bad-labels", arrays)
    with pytest.raises(ValueError, match=r"test labels must be integers 0..9"):
        data.load_mnist(directory, allow_download=False)


def test_npz_missing_arrays_is_reported(tmp_path, no_data_anywhere, tiny_mnist):
    np.savez(tmp_path / "mnist.npz", x_train=tiny_mnist["x_train"])
    with pytest.raises(ValueError, match=r"missing arrays y_train, x_test, y_test"):
        data.load_mnist(tmp_path, allow_download=False)


# The real data comes from the session fixture ``mnist`` in tests/conftest.py, which loads it
# through DIGIT_DATA_DIR (or the other local places) and skips when it is absent.

def test_real_mnist_shapes_and_source(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_train.shape == (60000,) and mnist.y_test.shape == (10000,)
    arrays = (mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test)
    assert {array.dtype for array in arrays} == {np.dtype("uint8")}
    from_env = os.environ.get(config.DATA_DIR_ENV, "").strip()
    if from_env:
        assert mnist.source == f"IDX files in {Path(from_env).expanduser()}"


def test_real_mnist_label_counts(mnist):
    assert data.label_counts(mnist.y_test).tolist() == MNIST_TEST_COUNTS
    assert data.label_counts(mnist.y_train).tolist() == MNIST_TRAIN_COUNTS


# --- USPS -------------------------------------------------------------------------------------

def _usps_row(label: str, pixels: list[str]) -> str:
    return " ".join([label] + pixels)


def test_load_usps_maps_values_and_finds_the_dir_beside_digit_data_dir(tmp_path, monkeypatch,
                                                                      no_data_anywhere):
    ink, background, grey = ["1"] * 256, ["-1.0000"] * 256, ["0"] * 256
    text = "\n".join([_usps_row("3.0000", ink), _usps_row("0", background),
                      _usps_row("9", grey)]) + "\n"
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "zip.test").write_text(text)
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "mnist"))  # usps sits beside it
    images, labels = data.load_usps("test")
    assert images.shape == (3, 16, 16) and images.dtype == np.uint8
    assert labels.tolist() == [3, 0, 9] and labels.dtype == np.uint8
    assert (images[0] == 255).all() and (images[1] == 0).all() and (images[2] == 128).all()


def test_load_usps_reports_the_malformed_line(tmp_path, no_data_anywhere):
    good = _usps_row("1", ["-1"] * 256)
    (tmp_path / "zip.train.gz").write_bytes(
        gzip.compress(f"{good}\n{good}\n{_usps_row('2', ['-1'] * 200)}\n".encode()))
    with pytest.raises(ValueError, match=r"zip.train.gz, line 3: expected 257 values "
                                         r"\(label \+ 256 pixels\), found 201"):
        data.load_usps("train", tmp_path)
    bad_cell = _usps_row("1", ["-1"] * 255 + ["x"])
    (tmp_path / "zip.train.gz").write_bytes(gzip.compress(f"{good}\n{bad_cell}\n".encode()))
    with pytest.raises(ValueError, match=r"line 2: could not convert string to float: 'x'"):
        data.load_usps("train", tmp_path)
    (tmp_path / "zip.train.gz").write_bytes(gzip.compress(_usps_row("1", ["1.5"] * 256).encode()))
    with pytest.raises(ValueError, match=r"line 1: pixel 0 is '1.5', outside \[-1, 1\]"):
        data.load_usps("train", tmp_path)


def test_load_usps_not_found_and_bad_split(tmp_path, no_data_anywhere):
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load_usps("test", tmp_path / "nowhere")
    message = str(caught.value)
    assert "zip.test.gz" in message and "DIGIT_USPS_DIR" in message
    for directory in config.usps_dir_candidates(tmp_path / "nowhere"):
        assert str(directory) in message
    with pytest.raises(ValueError, match=r"USPS split must be 'train' or 'test', got 'valid'"):
        data.load_usps("valid")


@pytest.mark.parametrize("split, count", [("test", 2007), ("train", 7291)])
def test_real_usps(split, count):
    if not any((directory / f"zip.{split}.gz").is_file()
               for directory in config.usps_dir_candidates()):
        pytest.skip(f"zip.{split}.gz is in none of {config.usps_dir_candidates()}")
    images, labels = data.load_usps(split)
    assert images.shape == (count, 16, 16) and images.dtype == np.uint8
    assert labels.shape == (count,) and set(labels.tolist()) == set(range(10))
    assert np.median(images) == 0  # dark background, light digits, like MNIST
    assert images.max() == 255


# --- splits, normalisation, summaries -------------------------------------------------------

def _labelled_ids(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Images that are their own index, so rows can be traced through a split."""
    labels = np.arange(count) % 10
    return np.arange(count).reshape(count, 1), labels


def test_validation_split_is_seeded_stratified_and_disjoint():
    x, y = _labelled_ids(200)
    x_train, y_train, x_val, y_val = data.validation_split(x, y, 0.25, seed=7)
    assert len(x_val) == 50 and len(x_train) == 150
    assert sorted(np.concatenate([x_train, x_val]).ravel().tolist()) == list(range(200))
    np.testing.assert_array_equal(y_train, y[x_train.ravel()])  # pairs stay together
    np.testing.assert_array_equal(y_val, y[x_val.ravel()])
    assert data.label_counts(y_val).tolist() == [5] * 10
    again = data.validation_split(x, y, 0.25, seed=7)
    other = data.validation_split(x, y, 0.25, seed=8)
    np.testing.assert_array_equal(again[2], x_val)
    assert not np.array_equal(other[2], x_val)


def test_validation_split_total_is_exact_when_classes_do_not_divide():
    x, y = _labelled_ids(103)
    x_train, _, x_val, y_val = data.validation_split(x, y, 0.1, seed=0)
    assert len(x_val) == 10 and len(x_train) == 93
    assert data.label_counts(y_val).tolist() == [1] * 10


def test_validation_split_edge_fractions():
    x, y = _labelled_ids(20)
    x_train, y_train, x_val, y_val = data.validation_split(x, y, 0.0, seed=1)
    assert x_val.shape == (0, 1) and y_val.shape == (0,)
    assert sorted(x_train.ravel().tolist()) == list(range(20))
    for fraction in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\)"):
            data.validation_split(x, y, fraction, seed=1)
    with pytest.raises(ValueError, match=r"x has 20 samples but y has 19"):
        data.validation_split(x, y[:19], 0.5, seed=1)


def test_scale_255():
    scaled = scaling.scale_255(np.array([[0, 51, 255]], dtype=np.uint8))
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, [[0.0, 0.2, 1.0]], rtol=1e-6)


def test_normalize_l2_by_hand():
    # One image of 2 rows x 2 columns: each column is divided by its length; a zero column stays 0.
    images = np.array([[[3, 0], [4, 0]]], dtype=np.uint8)
    result = scaling.normalize_l2(images)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, [[[0.6, 0.0], [0.8, 0.0]]], rtol=1e-6)


def test_normalize_l2_matches_keras():
    keras = pytest.importorskip("keras")
    images = np.random.default_rng(3).integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    images[0, :, 4] = 0  # a blank column, whose norm is zero
    expected = keras.utils.normalize(images, axis=1)
    np.testing.assert_allclose(scaling.normalize_l2(images), expected, rtol=1e-6, atol=1e-7)


def test_normalize_dispatches_and_rejects_unknown_methods():
    images = np.array([[[3, 0], [4, 255]]], dtype=np.uint8)
    np.testing.assert_array_equal(scaling.normalize(images, "scale"), scaling.scale_255(images))
    np.testing.assert_array_equal(scaling.normalize(images, "l2"), scaling.normalize_l2(images))
    with pytest.raises(ValueError, match=r"Unknown normalization method 'minmax'; choose one of "
                                         r"'scale', 'l2'"):
        scaling.normalize(images, "minmax")


def test_label_counts_and_dataset_summary():
    images = np.array([[[0, 7]], [[255, 3]], [[1, 2]]], dtype=np.uint8)
    labels = np.array([3, 3, 9], dtype=np.uint8)
    assert data.label_counts(labels).tolist() == [0, 0, 0, 2, 0, 0, 0, 0, 0, 1]
    assert data.dataset_summary(images, labels) == {
        "count": 3, "shape": (3, 1, 2), "dtype": "uint8", "min": 0, "max": 255, "missing": 0,
        "class_counts": [0, 0, 0, 2, 0, 0, 0, 0, 0, 1]}
    floats = np.array([[0.5, np.nan], [np.nan, -1.0]])
    summary = data.dataset_summary(floats, np.array([0, 1]))
    assert (summary["missing"], summary["min"], summary["max"]) == (2, -1.0, 0.5)
    with pytest.raises(ValueError, match=r"labels must be integers 0..9"):
        data.label_counts(np.array([1, 10]))
