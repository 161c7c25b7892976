"""The HTML report in a real headless browser (the system's Chromium): it loads without console
errors or blocked requests, every figure decodes, the page does not overflow, and a screenshot
shows content. Skipped, with the reason, where no Chromium is installed (CI installs Debian's
``chromium`` in ``.ci/run``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fixture import fixture_study

from genoffload.studies.report import CSP, write_report

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
                None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine (install Debian's chromium: apt-get install chromium)")
# offline and quiet: without the background-networking flags Chromium tries the (closed) network
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--hide-scrollbars", "--mute-audio", "--enable-logging=stderr",
         "--v=0")
WIDTH = 1280
PANELS = ("fig5a", "fig5b", "fig5c", "fig5d", "fig5e", "fig5f", "gap")
TABLES = ("tbl-episode", "tbl-snapshot", "tbl-failures", "tbl-cases", "tbl-metadata")
PROBE = """<script>
window.__errors = 0;
window.addEventListener("error", () => { window.__errors += 1; }, true);
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const b = document.body.dataset;
  b.imgsTotal = imgs.length;
  b.imgsDecoded = imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length;
  b.figures = document.querySelectorAll("figure.panel").length;
  b.tables = document.querySelectorAll("table").length;
  b.overflow = document.documentElement.scrollWidth > window.innerWidth ? 1 : 0;
  b.errors = window.__errors;
  b.probe = "done";
});
</script>"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with its own profile folder (bounded in time)."""
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=False)


def console_messages(stderr: str) -> list[str]:
    """Messages of the page's console (errors, CSP violations): Chromium logs them as CONSOLE."""
    return [line for line in stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report.html"
    write_report(fixture_study(), out)
    return out


def test_report_loads_without_console_errors(report_html: Path, tmp_path: Path) -> None:
    res = chromium(tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom",
                   report_html.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    assert console_messages(res.stderr) == []  # no error, no blocked request (CSP)
    dom = res.stdout
    for key in PANELS:
        assert re.search(rf'<figure class="panel" id="{key}"><h3>[^<]+</h3><img src="data:image/png;base64,',
                         dom), key
    for key in TABLES:
        assert f'<table id="{key}"' in dom, key
    assert "<title>Study report: report-fixture</title>" in dom


def test_every_figure_decodes_and_the_page_fits(report_html: Path, tmp_path: Path) -> None:
    # a copy with a probe script (the report itself has no script and its CSP forbids any)
    text = report_html.read_text(encoding="utf-8")
    assert CSP in text
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace(CSP, CSP.replace("default-src 'none'",
                                                   "default-src 'none'; script-src 'unsafe-inline'"))
                     .replace("</body>", PROBE + "</body>"), encoding="utf-8")
    res = chromium(tmp_path / "profile", "--virtual-time-budget=5000", f"--window-size={WIDTH},900",
                   "--dump-dom", probe.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    assert console_messages(res.stderr) == []
    body = re.search(r"<body([^>]*)>", res.stdout)
    assert body is not None
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("probe") == "done", attrs
    assert attrs["imgs-total"] == str(len(PANELS))
    assert attrs["imgs-decoded"] == str(len(PANELS))
    assert attrs["figures"] == str(len(PANELS))
    assert int(attrs["tables"]) == len(TABLES)
    assert attrs["errors"] == "0"
    assert attrs["overflow"] == "0"  # wide tables scroll inside their box, not the page


def test_screenshot_shows_the_report(report_html: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    res = chromium(tmp_path / "profile", f"--screenshot={shot}", f"--window-size={WIDTH},2400",
                   report_html.as_uri())
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    assert console_messages(res.stderr) == []
    with Image.open(shot) as im:
        assert im.size == (WIDTH, 2400)
        colours = im.convert("RGB").resize((320, 600)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 100  # text, figures and colours, not a blank page
