"""The labeling page in a real browser: Debian's chromium through playwright.

A person's session, by keyboard: 30 labels, the server SIGKILLed, restarted
on the same journal, 10 more labels (none asked again), an undo; after every
key the label is on disk before the next item shows. Skips, with the reason,
where chromium or playwright is missing (``.ci/run`` installs chromium).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

CHROMIUM = os.environ.get("SKAL_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
pytest.importorskip("starlette", reason="skal-learn[label] is not installed")
if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
    pytest.skip(
        f"no chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)",
        allow_module_level=True,
    )

SERVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from skal import ActiveLearner
    from skal.labeling import serve
    from skal.stopping import BudgetExhausted

    X, y = load_digits(return_X_y=True)
    keep = np.flatnonzero(y < 9)[:300]          # classes 0..8: keys 1..9
    X, y = X[keep], y[keep]
    y_seed = np.full_like(y, -1)
    first = [int(np.flatnonzero(y == c)[0]) for c in range(9)]
    y_seed[first] = y[first]
    learner = ActiveLearner(LogisticRegression(max_iter=200), n_instances=5,
                            stopping=BudgetExhausted(60), random_state=0,
                            journal=sys.argv[1]).fit(X, y_seed)
    serve(learner, port=0, image_shape=(8, 8), eval_set=(X[200:], y[200:]))
    """
)


def _truth():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return y[np.flatnonzero(y < 9)[:300]]


def _start(script, journal):
    proc = subprocess.Popen(
        [sys.executable, str(script), str(journal)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        if line.startswith("skal labeling page: "):
            return proc, line.split(": ", 1)[1].strip()
    proc.kill()
    raise AssertionError(f"the server did not start: {proc.stdout.read()}")


def _records(journal):
    out = []
    with open(journal) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:  # a torn last line
                pass
    return out


def _on_disk(journal):
    """Row → label as the journal has them (unlabel records applied)."""
    rows = {}
    for rec in _records(journal):
        kind = rec.get("kind")
        if kind in ("label", "relabel") and rec.get("index") is not None:
            rows[int(rec["index"])] = rec.get("label")
        elif kind == "unlabel" and rec.get("index") is not None:
            rows.pop(int(rec["index"]), None)
    return rows


def _label_by_keyboard(page, truth, journal, n, seen):
    """Press the true class's key ``n`` times; check disk before each next item."""
    for _ in range(n):
        row = int(page.get_attribute("#item", "data-index"))
        assert row not in seen, f"row {row} asked twice"
        seen.append(row)
        page.keyboard.press(str(int(truth[row]) + 1))
        page.wait_for_function(
            "r => document.querySelector('#item').dataset.index !== String(r)", arg=row
        )
        # the next item is shown: the label must already be on disk
        assert _on_disk(journal).get(row) == int(truth[row])


def test_keyboard_session_survives_sigkill_and_undo(tmp_path):
    truth = _truth()
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    journal = tmp_path / "labels.jsonl"
    seen = []
    proc, url = _start(script, journal)
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1100, "height": 640},
        )
        try:
            page = ctx.new_page()
            page.goto(url)
            page.wait_for_selector("#item[data-index]:not([data-index=''])")
            buttons = page.locator("button.label")
            assert buttons.count() == 9
            assert buttons.nth(0).inner_text().replace("\n", " ").split() == ["1", "0"]
            _label_by_keyboard(page, truth, journal, 30, seen)
            turns = page.evaluate("window.skalTurns.map(t => t.ms)")
            assert len(turns) == 30

            proc.send_signal(signal.SIGKILL)  # no goodbye: nothing may be lost
            proc.wait(10)
            on_disk = _on_disk(journal)
            assert {r: on_disk.get(r) for r in seen} == {r: int(truth[r]) for r in seen}

            proc, url = _start(script, journal)  # same journal: resume
            page.goto(url)
            page.wait_for_selector("#item[data-index]:not([data-index=''])")
            assert page.locator("#counts tr.total td").inner_text() == str(9 + 30)
            other_page = ctx.new_page()  # a second browser tab: another item
            other_page.goto(url)
            other_page.wait_for_selector("#item[data-index]:not([data-index=''])")
            theirs = int(other_page.get_attribute("#item", "data-index"))
            assert theirs != int(page.get_attribute("#item", "data-index"))
            assert theirs not in seen
            other_page.close()
            _label_by_keyboard(page, truth, journal, 10, seen)
            for _ in range(50):  # two background refits: a curve to show
                page.evaluate("window.skalRefresh()")
                if page.locator("svg#curve circle").count() >= 2:
                    break
                time.sleep(0.1)
            shot = tmp_path / "labeling_page.png"
            page.screenshot(path=str(shot))
            target = os.environ.get("SKAL_SCREENSHOT")
            if target:
                shutil.copyfile(shot, target)

            last = seen[-1]
            before = page.get_attribute("#item", "data-index")
            page.keyboard.press("z")  # undo: the last item comes back
            page.wait_for_function(
                "r => document.querySelector('#item').dataset.index === String(r)",
                arg=last,
            )
            assert last not in _on_disk(journal)
            kinds = [r.get("kind") for r in _records(journal)]
            assert kinds.count("unlabel") == 1
            other = (int(truth[last]) + 1) % 9
            page.keyboard.press(str(other + 1))  # labeled again, differently
            page.wait_for_function(
                "b => document.querySelector('#item').dataset.index === b", arg=before
            )
            assert _on_disk(journal)[last] == other
            turns += page.evaluate("window.skalTurns.map(t => t.ms)")
        finally:
            ctx.close()
            proc.kill()
            proc.wait(10)
    final = _on_disk(journal)
    assert len(final) == 40 and len(set(seen)) == 40
    assert sorted(final) == sorted(seen)
    assert np.percentile(turns, 95) < 1000, turns  # key -> next item shown, ms
