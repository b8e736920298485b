"""A Kaggle-sized CSV of digits: upload to first chart on the Explore page, and the memory it takes.

    DIGIT_DATA_DIR=../shared/mnist python bench/kaggle_csv.py [--rows 42000] [--out-dir /tmp]

Writes MNIST's first ROWS training digits as Kaggle's digit-recognizer train.csv (label,pixel0..783;
42,000 rows make about 76 MB) and the test digits without labels as its test.csv (28,000 rows), into
OUT_DIR. Then, for each file:

- core: ``read_digits_csv`` and ``profile_dataset``, as the page calls them, timed, with the peak of
  memory Python allocates meanwhile (tracemalloc);
- page: pages/explore.py in Streamlit's AppTest (the app's own script, caches and uploader), switched
  to "Uploaded CSV", then the file put on its uploader and the page run: the seconds that run takes
  (the first chart is drawn earlier in it, so this bounds upload-to-first-chart from above), and the
  process's resident memory at its peak during the run over the resident memory before the upload.

Targets: upload to first chart at most 30 s, memory growth at most 1 GB.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import common  # noqa: F401  (puts the project on sys.path, quiets TensorFlow)
import numpy as np

TARGET_SECONDS = 30.0
TARGET_GROWTH_BYTES = 1 << 30
EXPLORE_PAGE = Path(__file__).resolve().parent.parent / "pages" / "explore.py"


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray | None) -> None:
    """Kaggle's layout: a header, then one image per line (the label first when there is one)."""
    pixels = images.reshape(len(images), -1)
    header = ",".join(f"pixel{index}" for index in range(pixels.shape[1]))
    if labels is not None:
        header, pixels = f"label,{header}", np.column_stack([labels, pixels])
    np.savetxt(path, pixels, fmt="%d", delimiter=",", header=header, comments="")


def resident_bytes(field: str = "VmRSS") -> int:
    """This process's resident memory (VmRSS), or its peak since the last reset (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from VmRSS


def core_path(content: bytes) -> tuple[float, int, int]:
    """(seconds, tracemalloc peak bytes, images) of parsing and profiling the file's bytes."""
    import io

    from digit_core.data.csv_import import read_digits_csv
    from digit_core.data.profile import profile_dataset

    tracemalloc.start()
    started = time.perf_counter()
    images, labels = read_digits_csv(io.BytesIO(content))
    profile_dataset(images, labels)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, len(images)


def page_path(name: str, content: bytes) -> tuple[float, int, int]:
    """(seconds of the page's run after the upload, resident growth in bytes, plotly charts drawn)."""
    from streamlit.testing.v1 import AppTest

    import app_state

    at = AppTest.from_file(str(EXPLORE_PAGE), default_timeout=600).run()  # MNIST train, the default source
    at.radio(key=app_state.EXPLORE_SOURCE).set_value(app_state.CSV_SOURCE).run()
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    before = resident_bytes()
    reset_peak()
    started = time.perf_counter()
    at.file_uploader[0].set_value((name, content, "text/csv")).run()
    seconds = time.perf_counter() - started
    growth = resident_bytes("VmHWM") - before
    if at.exception or at.error:
        raise RuntimeError(f"the page failed on {name}: {(at.exception or at.error)[0].value}")
    return seconds, growth, len(at.get("plotly_chart"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=42_000, help="labelled rows of train.csv (default: Kaggle's)")
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp"), help="where the CSVs are written")
    args = parser.parse_args()

    from digit_core.data import load_mnist

    mnist = load_mnist()
    files = {"kaggle-train.csv": (mnist.x_train[:args.rows], mnist.y_train[:args.rows]),
             "kaggle-test.csv": (np.concatenate([mnist.x_test, mnist.x_train[-18_000:]]), None)}
    results = []
    for name, (images, labels) in files.items():
        path = args.out_dir / name
        write_csv(path, images, labels)
        content = path.read_bytes()
        core_seconds, core_peak, rows = core_path(content)
        page_seconds, growth, charts = page_path(name, content)
        results.append((page_seconds, growth))
        print(f"{name}: {rows:,} rows{'' if labels is not None else ' without labels'}, "
              f"{len(content) / 1e6:.1f} MB")
        print(f"  core: read + profile {core_seconds:.1f} s, peak allocated {core_peak / 1e6:.0f} MB")
        print(f"  page: upload to the run's end {page_seconds:.1f} s ({charts} charts), "
              f"resident memory growth {growth / 1e6:.0f} MB")
    worst_seconds = max(seconds for seconds, _ in results)
    worst_growth = max(growth for _, growth in results)
    print(f"targets: ≤ {TARGET_SECONDS:.0f} s: {'met' if worst_seconds <= TARGET_SECONDS else 'MISSED'} "
          f"({worst_seconds:.1f} s); ≤ 1 GB growth: {'met' if worst_growth <= TARGET_GROWTH_BYTES else 'MISSED'} "
          f"({worst_growth / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
