"""Mouse-up to the answer on the Draw page, stage by stage, in a real browser (Debian's Chromium).

    python bench/draw_latency.py [--drawings 20] [--sessions 5] [--starts 3] [--model PATH]
                                 [--send-on-mouse-up]

Starts the app (``streamlit run app.py`` on a free port) with one model, the shipped
``models/default.keras`` unless ``--model`` names another, and the pages' stage marks switched on
(``DIGIT_DRAW_TIMINGS=1``, see ``app_timing.py``). It times:

- the start, ``--starts`` times: from launching the server to a Draw page whose canvas takes the pen;
- one session: ``--drawings`` one-stroke digits drawn with the mouse, each on a cleared canvas;
- ``--sessions`` sessions (browser contexts) drawing at once, ``--drawings`` rounds.

A drawing's time is cut at the mouse-up and the drawing leaving on the websocket (both seen in the
page), the fragment's run starting and passing each mark (on the server), and the first frame after
the ``Prediction`` metric enters the page. The browser and the server read the same clock. The first
drawing of each session, which warms the page up, is left out.

``--send-on-mouse-up`` answers "what if the canvas sent the drawing on mouse-up": right after each
mouse-up the page presses the canvas's own "Update the app with this drawing" button, which sends at
once instead of after the component's fixed 200 ms wait. A what-if for the bench only: the app never
does this.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from common import percentile

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ANSWER_TIMEOUT_MS = 30_000  # longer than any answer takes, even on a loaded machine
VIEWPORT = {"width": 1400, "height": 1000}
CANVAS_SIDE = 280

# Installed in every page before Streamlit's own code. window.__armDrawTiming() (called just before
# a mouse-up) records in window.__drawTiming, in ms since the epoch: the mouse-up, the first websocket
# message sent after it (the canvas's drawing), the "Prediction" metric entering the page and the next
# animation frame (it is then painted); window.__drawTimingDone resolves then, so nothing polls the page.
_PAGE_CLOCK = """(() => {
    const now = () => performance.timeOrigin + performance.now();
    const timing = window.__drawTiming = {};
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
        if (timing.up && !timing.sent) timing.sent = now();
        return send.call(this, data);
    };
    const sendButton = (root = document) => {
        for (const element of root.querySelectorAll('*')) {
            if (element.matches('button[title="Update the app with this drawing"]')) return element;
            const inside = element.shadowRoot && sendButton(element.shadowRoot);
            if (inside) return inside;
        }
        return null;
    };
    window.__armDrawTiming = (sendOnMouseUp) => {
        for (const name of Object.keys(timing)) delete timing[name];
        window.addEventListener('mouseup', () => {
            timing.up = now();
            // After the canvas has handled the mouse-up (its own listeners run after this one).
            if (sendOnMouseUp) setTimeout(() => sendButton().click(), 0);
        }, {capture: true, once: true});
        const shown = () => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
            .some(label => label.offsetParent !== null && label.innerText.trim() === 'Prediction');
        window.__drawTimingDone = new Promise((resolve, reject) => {
            const observer = new MutationObserver(() => {
                if (shown()) {
                    observer.disconnect();
                    timing.shown = now();
                    requestAnimationFrame(() => { timing.painted = now(); resolve(); });
                }
            });
            observer.observe(document.body, {childList: true, subtree: true, characterData: true});
            setTimeout(() => reject(new Error('no Prediction on screen')), %d);
        });
    };
})()""" % ANSWER_TIMEOUT_MS

# The breakdown: marks in the order a drawing passes them (the page's timestamps and app_timing's
# marks), each row the time since the mark before it that the drawing has.
TO_THE_ANSWER = [("up", ""), ("sent", "canvas: mouse-up → drawing sent"),
                 ("start", "websocket → fragment run starts"), ("widgets", "slider, canvas, Clear"),
                 ("canvas decoded", "decode the canvas PNG"),
                 ("digits counted", "count digits"), ("read", "preprocess + predict"),
                 ("answer", "Prediction, Confidence metrics"), ("painted", "answer sent → painted")]
AFTER_THE_ANSWER = [("answer", ""), ("probabilities", "ten probability bars"), ("steps", "preprocessing steps"),
                    ("label buttons", "label buttons"), ("downloads", "downloads"),
                    ("why this answer", "why this answer")]
TOTALS = [("mouse-up → Prediction on screen", "up", "painted"),
          ("  of which after the drawing is sent", "sent", "painted"),
          ("mouse-up → run ends", "up", "end")]
START = [("server answers /health", "healthy"), ("page loaded (DOMContentLoaded)", "loaded"),
         ("Draw page's script starts", "page"), ("model loaded", "model loaded"),
         ("canvas sent", "widgets"), ("canvas takes the pen", "ready")]


@dataclass
class Session:
    """One browser context on the Draw page, the server session it is, and its drawings' timestamps."""

    driver: object  # tests.e2e.driver.AppDriver
    server_id: str = ""
    timings: list[dict[str, float]] = field(default_factory=list)


def server_marks(log: Path) -> dict[str, list[tuple[str, float]]]:
    """Every ``draw-timing`` line of the server log: (mark, ms since the epoch) by session id, in order."""
    from app_timing import LINE_PREFIX

    marks: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for line in log.read_text().splitlines():
        if line.startswith(LINE_PREFIX + " "):
            _, session, rest = line.split(" ", 2)
            name, seconds = rest.rsplit(" ", 1)
            marks[session].append((name, float(seconds) * 1000))
    return marks


def run_after(marks: list[tuple[str, float]], after_ms: float) -> dict[str, float]:
    """The marks of the first fragment run that started after ``after_ms``."""
    run: dict[str, float] = {}
    for name, at in marks:
        if not run and name == "start" and at >= after_ms:
            run["start"] = at
        elif run:
            run.setdefault(name, at)
            if name == "end":
                break
    return run


def open_session(browser, url: str, log: Path, known: set[str], workdir: Path) -> Session:
    """A new browser context on the Draw page, and which server session it is."""
    from tests.e2e.driver import AppDriver

    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(_PAGE_CLOCK)
    driver = AppDriver(context.new_page(), url, workdir)
    driver.open("draw")
    driver.wait_until_canvas_draws()
    deadline = time.monotonic() + 10
    while not (new := set(server_marks(log)) - known) and time.monotonic() < deadline:
        time.sleep(0.05)
    if len(new) != 1:
        raise RuntimeError(f"Expected one new session in the server's timing lines, found {sorted(new)}.")
    known |= new
    return Session(driver, new.pop())


def draw_at_once(sessions: list[Session], strokes: list, send_on_mouse_up: bool) -> None:
    """Draw each session's stroke with the mouse, all sessions in turn point by point; time each answer."""
    pages = [session.driver.page for session in sessions]
    boxes = []
    for session in sessions:
        session.driver.wait_until_canvas_draws()
        boxes.append(session.driver.canvas().bounding_box())
    for page, box, stroke in zip(pages, boxes, strokes):
        page.mouse.move(box["x"] + float(stroke[0][0]), box["y"] + float(stroke[0][1]))
        page.mouse.down()
    for step in range(1, max(len(stroke) for stroke in strokes)):
        for page, box, stroke in zip(pages, boxes, strokes):
            x, y = stroke[min(step, len(stroke) - 1)]
            page.mouse.move(box["x"] + float(x), box["y"] + float(y))
    for page in pages:
        page.evaluate("sendOnMouseUp => window.__armDrawTiming(sendOnMouseUp)", send_on_mouse_up)
    for page in pages:
        page.mouse.up()
    for session, page in zip(sessions, pages):
        page.evaluate("() => window.__drawTimingDone")
        session.timings.append(page.evaluate("() => ({...window.__drawTiming})"))
    for session in sessions:
        session.driver.wait_until_idle()


def time_drawings(sessions: list[Session], drawings: int, log: Path, send_on_mouse_up: bool) -> list[dict]:
    """``drawings`` rounds of every session drawing a one-stroke digit at once; each drawing's timestamps."""
    from digit_core.data.synthetic import digit_styles, stroke_points_on_canvas

    one_stroke = [strokes[0] for digit in range(10) for strokes in digit_styles(digit) if len(strokes) == 1]
    for round_index in range(drawings + 1):  # the first round warms the pages up
        for session in sessions:
            if session.driver.metric("Prediction").count():
                session.driver.clear_canvas()
        strokes = [stroke_points_on_canvas([one_stroke[(round_index + offset) % len(one_stroke)]], CANVAS_SIDE,
                                           scale=0.7)[0] for offset in range(len(sessions))]
        draw_at_once(sessions, strokes, send_on_mouse_up)
    time.sleep(0.2)  # the server's last lines
    marks = server_marks(log)
    return [{**run_after(marks[session.server_id], timing["sent"]), **timing}
            for session in sessions for timing in session.timings[1:]]


def time_start(models_dir: Path, workdir: Path, browser) -> dict[str, float]:
    """Seconds from launching a fresh server to each step of its first Draw page, up to the canvas
    taking the pen."""
    from tests.app_server import running_app
    from tests.e2e.driver import AppDriver

    runs_dir = Path(tempfile.mkdtemp(dir=workdir))
    log = runs_dir / "app.log"
    context = browser.new_context(viewport=VIEWPORT)
    driver = AppDriver(context.new_page(), "", workdir)
    launched = time.time()
    with running_app(models_dir, runs_dir, log) as app:
        steps = {"healthy": time.time()}
        driver.page.goto(app.url)
        driver.wait_until_canvas_draws()
        steps["ready"] = time.time()
        steps["loaded"] = driver.page.evaluate("() => performance.timeOrigin + "
                                               "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
        steps["loaded"] /= 1000
    context.close()
    (marks,) = [marks for session, marks in server_marks(log).items() if session != "-"]
    for name, at in marks:
        steps.setdefault(name, at / 1000)  # the first of each
    return {name: at - launched for name, at in steps.items()}


def row(label: str, values: list[float], unit_format: str = "8.0f") -> str:
    if not values:
        return f"{label:<38} {'—':>8} {'—':>8}"
    return f"{label:<38} {statistics.median(values):{unit_format}} {percentile(values, 90):{unit_format}}"


def breakdown(title: str, timings: list[dict[str, float]]) -> list[str]:
    lines = [f"{title}, {len(timings)} drawings", f"{'stage (ms)':<38} {'median':>8} {'p90':>8}"]
    for sequence in (TO_THE_ANSWER, AFTER_THE_ANSWER):
        for index, (mark, label) in enumerate(sequence[1:], start=1):
            since = [next((timing[earlier] for earlier, _ in reversed(sequence[:index]) if earlier in timing), None)
                     for timing in timings]
            lines.append(row(label, [timing[mark] - earlier for timing, earlier in zip(timings, since)
                                     if mark in timing and earlier is not None]))
        lines.append("")
    for label, begin, end in TOTALS:
        lines.append(row(label, [timing[end] - timing[begin] for timing in timings
                                 if begin in timing and end in timing]))
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "default.keras")
    parser.add_argument("--drawings", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=5, help="sessions drawing at once (0: none)")
    parser.add_argument("--starts", type=int, default=3, help="fresh server starts timed (0: none)")
    parser.add_argument("--send-on-mouse-up", action="store_true",
                        help="what if the canvas sent each drawing at mouse-up (see above)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from app_timing import TIMINGS_ENV
    from tests.app_server import CHROMIUM, CHROMIUM_ARGS, running_app

    os.environ[TIMINGS_ENV] = "1"
    workdir = Path(tempfile.mkdtemp(prefix="draw-latency-"))
    models_dir, runs_dir = workdir / "models", workdir / "runs"
    models_dir.mkdir()
    runs_dir.mkdir()
    for suffix in (".keras", ".json", ".onnx"):  # the model, its sidecar and the export the app runs
        if args.model.with_suffix(suffix).is_file():
            shutil.copyfile(args.model.with_suffix(suffix), models_dir / f"default{suffix}")

    load_before = os.getloadavg()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        starts = [time_start(models_dir, workdir, browser) for _ in range(args.starts)]
        log = workdir / "app.log"
        with running_app(models_dir, runs_dir, log) as app:
            known: set[str] = set()
            alone = [open_session(browser, app.url, log, known, workdir)]
            one_session = time_drawings(alone, args.drawings, log, args.send_on_mouse_up)
            alone[0].driver.page.context.close()
            together = [open_session(browser, app.url, log, known, workdir) for _ in range(args.sessions)]
            many_sessions = time_drawings(together, args.drawings, log, args.send_on_mouse_up) if together else []
        browser.close()
    shutil.rmtree(workdir, ignore_errors=True)

    lines = [f"load average (1, 5, 15 min) before: {', '.join(f'{v:.1f}' for v in load_before)}; after: "
             f"{', '.join(f'{v:.1f}' for v in os.getloadavg())} ({os.cpu_count()} CPUs)"
             + ("; the canvas sends on mouse-up (what-if)" if args.send_on_mouse_up else ""), ""]
    if starts:
        lines += [f"app start, {len(starts)} fresh servers", f"{'since launching the server (s)':<38} "
                  f"{'median':>8} {'max':>8}"]
        for label, step in START:
            values = [start[step] for start in starts if step in start]
            lines.append(f"{label:<38} {statistics.median(values):8.1f} {max(values):8.1f}" if values
                         else f"{label:<38} {'—':>8} {'—':>8}")
        lines.append("")
    lines += breakdown("one session", one_session)
    if many_sessions:
        lines += breakdown(f"{args.sessions} sessions drawing at once", many_sessions)
    print("\n".join(lines).rstrip())


if __name__ == "__main__":
    main()
