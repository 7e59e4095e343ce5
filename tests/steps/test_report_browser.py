"""Issue 17: report.html as a person sees it, in a real headless Chromium, offline.

The first screen (1280x900) holds the verdict and why, the chosen model's primary metric against the best
baseline with both 95% intervals, and the gates. Without ``chromium`` the test skips locally and fails in CI
(``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

WIDTH, HEIGHT = 1280, 900
CONSOLE = re.compile(r":CONSOLE[:(]\d+")  # how Chromium logs a page's console messages on stderr


def _chromium() -> str:
    found = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: .ci/run installs it with apt-get before make test")
    pytest.skip("chromium is not installed (apt-get install -y chromium); CI runs this test")


def _browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: a request for anything outside the page fails
               f"--window-size={WIDTH},{HEIGHT}", f"--user-data-dir={profile}", *args, page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


class Text(HTMLParser):
    """The visible text up to the first ``<h2>`` (the detailed sections), and every ``src``/``href``."""

    def __init__(self):
        super().__init__()
        self.words, self.refs, self.done, self._skip = [], [], False, 0

    def handle_starttag(self, tag, attrs):
        self.done = self.done or tag == "h2"
        self._skip += tag in ("style", "script", "title")
        self.refs += [v for k, v in attrs if k in ("src", "href")]

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script", "title")

    def handle_data(self, data):
        if not self.done and not self._skip:
            self.words += data.split()


def _expected_verdict(metrics: dict, readiness: list[dict]) -> str:
    statuses = {i["status"] for i in readiness}
    if not metrics["ready"] or "FAIL" in statuses:
        return "NOT READY"
    return "INCOMPLETE" if "NOT YET" in statuses else "READY"


@pytest.mark.slow
def test_the_first_screen_in_a_headless_browser_leads_with_the_answer(increment, tmp_path):
    from PIL import Image

    _chromium()  # skip or fail before building the increment
    run = increment("breast_cancer")
    page = run.inc / "reports" / "report.html"
    metrics = json.loads((run.inc / "reports" / "metrics.json").read_text())
    readiness = json.loads((run.inc / "reports" / "readiness.json").read_text())["items"]

    shot = tmp_path / "first-screen.png"
    logged = _browse(page, tmp_path / "profile-shot", f"--screenshot={shot}", "--enable-logging=stderr", "--v=0")
    assert shot.exists() and shot.stat().st_size > 10_000
    with Image.open(shot) as image:
        assert image.size == (WIDTH, HEIGHT)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text, tables and the verdict's colours, not a blank page
    assert not [line for line in logged.stderr.splitlines() if CONSOLE.search(line)]  # no console message at all

    dom = _browse(page, tmp_path / "profile-dom", "--dump-dom").stdout
    text = Text()
    text.feed(dom)
    first = " ".join(text.words)
    assert all(ref.startswith(("data:", "#")) for ref in text.refs), [r[:80] for r in text.refs if not r.startswith(("data:", "#"))]
    assert first.split()[0].startswith(run.increment.split("-")[0])  # the title, then the answer
    assert _expected_verdict(metrics, readiness) in first
    metric, best = metrics["primary_metric"], metrics["best_baseline"]
    model_ci, base_ci = metrics["intervals"]["model"], metrics["intervals"]["baseline"]
    assert f"{metric} {metrics['holdout'][metric]:.4f} vs {best['score']:.4f}" in first
    assert "95% confidence interval" in first
    for name, ci in ((metrics["chosen"], model_ci), (best["name"], base_ci)):
        assert f"{name} (" in first and f"[{ci['low']:.4f}, {ci['high']:.4f}]" in first
    for gate in metrics["gates"]:
        word = "PASS" if gate["passed"] else ("FAIL" if gate["blocking"] else "WARN")
        assert f"{gate['name']} {word}" in first
    for item in readiness:
        if item["status"] != "PASS":
            assert item["item"] in first  # the why of a verdict short of READY

    # Laid out by the browser: the verdict, the headline and the gates end inside the first screen.
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", "<script>document.body.dataset.bottom = Math.ceil("
                                              "document.querySelector('.cards').getBoundingClientRect().bottom)</script></body>"))
    bottom = re.search(r'data-bottom="(\d+)"', _browse(probe, tmp_path / "profile-probe", "--dump-dom").stdout)
    assert bottom and int(bottom.group(1)) <= HEIGHT, bottom
