"""Loads an HTML report in headless Chromium (Debian's ``chromium``) and checks what a reader would see.

:func:`check_report` injects two small scripts into a copy of the page: one at the top of ``<head>``
that records uncaught errors, failed resource loads and ``console.error`` calls, and one at the end of
``<body>`` that, after the page has loaded, measures the page (``scrollWidth`` against ``clientWidth``
of the document, the right edge of every ``.scroll`` container), checks that every image decoded,
parses every ``<audio>`` player's inline WAV (header, format, a whole non-empty data chunk), and
writes the result as JSON into an attribute that ``--dump-dom`` prints. A second run saves a
screenshot PNG (the artefact). Tests skip with :func:`require_chromium` where Chromium is not installed.
"""

import html
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)

_PROBE = """<script>
window.__problems = [];
window.addEventListener("error", function (e) {
  var t = e.target;
  if (t && t !== window && (t.src || t.href)) {
    window.__problems.push("failed to load <" + t.tagName.toLowerCase() + "> " + String(t.src || t.href).slice(0, 60));
  } else {
    window.__problems.push("uncaught error: " + e.message);
  }
}, true);
window.addEventListener("unhandledrejection", function (e) {
  window.__problems.push("unhandled rejection: " + e.reason);
});
(function () {
  var original = console.error;
  console.error = function () {
    window.__problems.push("console.error: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
})();
</script>"""

_CHECK = """<script>
window.addEventListener("load", function () {
  var doc = document.documentElement, width = doc.clientWidth;
  var result = {scrollWidth: doc.scrollWidth, clientWidth: width, problems: window.__problems,
                images: 0, brokenImages: [], audio: 0, audioDecoded: 0, brokenAudio: [], wideContainers: [],
                tablesInScroll: 0, tables: document.querySelectorAll("table").length};
  document.querySelectorAll(".scroll").forEach(function (el) {
    if (el.getBoundingClientRect().right > width + 1) result.wideContainers.push(el.className);
    result.tablesInScroll += el.querySelectorAll("table").length;
  });
  document.querySelectorAll("img").forEach(function (img) {
    result.images += 1;
    if (!img.complete || img.naturalWidth === 0) result.brokenImages.push(img.alt || img.src.slice(0, 40));
  });
  // Every player's source must be a whole WAV: RIFF/WAVE, a PCM or float "fmt " chunk, a non-empty
  // "data" chunk that the file holds. (Parsed here rather than played: media loading runs outside
  // headless Chromium's virtual time, so waiting for it is not deterministic.)
  document.querySelectorAll("audio").forEach(function (player, i) {
    result.audio += 1;
    var src = player.getAttribute("src") || "", comma = src.indexOf(",");
    if (src.indexOf("data:audio/wav;base64,") !== 0) { result.brokenAudio.push(i + ": not an inline wav"); return; }
    try {
      var bytes = atob(src.slice(comma + 1)), text = function (at) { return bytes.substr(at, 4); };
      var u32 = function (at) { return (bytes.charCodeAt(at) | bytes.charCodeAt(at + 1) << 8 |
                                        bytes.charCodeAt(at + 2) << 16 | bytes.charCodeAt(at + 3) << 24) >>> 0; };
      if (text(0) !== "RIFF" || text(8) !== "WAVE") throw "no RIFF/WAVE header";
      var at = 12, format = 0, rate = 0, data = 0;
      while (at + 8 <= bytes.length) {
        var id = text(at), size = u32(at + 4);
        if (id === "fmt ") { format = bytes.charCodeAt(at + 8) | bytes.charCodeAt(at + 9) << 8; rate = u32(at + 12); }
        if (id === "data") { data = size; if (at + 8 + size > bytes.length) throw "data chunk cut short"; }
        at += 8 + size + (size % 2);
      }
      if ((format !== 1 && format !== 3) || rate <= 0) throw "no PCM/float fmt chunk";
      if (data <= 0) throw "empty data chunk";
      result.audioDecoded += 1;
    } catch (e) {
      result.brokenAudio.push(i + ": " + e);
    }
  });
  document.body.setAttribute("data-report-check", JSON.stringify(result));
});
</script>"""


def require_chromium() -> str:
    """Chromium's path; skips the test where it is not installed."""
    if CHROMIUM is None:
        pytest.skip(
            "headless Chromium is not installed (Debian: apt-get install chromium; `make install` "
            "installs it): the browser check of the HTML reports cannot run"
        )
    return CHROMIUM


def _chromium(args, timeout=180):
    base = [
        require_chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--mute-audio",
        "--hide-scrollbars",
    ]
    return subprocess.run(base + list(args), capture_output=True, text=True, timeout=timeout)


def check_report(html_path, artefact_dir, width: int = 1024, height: int = 3000) -> dict:
    """Loads ``html_path`` in headless Chromium at ``width`` x ``height`` CSS pixels.

    Returns the measurements (see the module docstring) plus ``screenshot`` (the PNG written into
    ``artefact_dir``, path also printed) and ``console`` (Chromium's console lines from stderr).
    """
    html_path = pathlib.Path(html_path)
    artefact_dir = pathlib.Path(artefact_dir)
    artefact_dir.mkdir(parents=True, exist_ok=True)
    text = html_path.read_text(encoding="utf-8")
    text = re.sub(r"<head>", "<head>" + _PROBE, text, count=1) if "<head>" in text else _PROBE + text
    text = text.replace("</body>", _CHECK + "</body>") if "</body>" in text else text + _CHECK
    probe = artefact_dir / f"{html_path.stem}.probe.html"
    probe.write_text(text, encoding="utf-8")
    window = f"--window-size={width},{height}"
    for budget in (20000, 60000):  # a second try with more virtual time, for a loaded machine
        run = _chromium(
            [
                window,
                f"--virtual-time-budget={budget}",
                "--enable-logging=stderr",
                "--v=0",
                "--dump-dom",
                probe.as_uri(),
            ]
        )
        found = re.search(r'data-report-check="([^"]*)"', run.stdout)
        if found:
            break
    assert found, f"Chromium ran (exit {run.returncode}) but the check script left no result:\n{run.stderr[-3000:]}"
    result = json.loads(html.unescape(found.group(1)))
    result["console"] = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    shot = artefact_dir / f"{html_path.parent.name}_{html_path.stem}.png"
    _chromium([window, "--virtual-time-budget=10000", f"--screenshot={shot}", html_path.resolve().as_uri()])
    assert shot.is_file() and shot.stat().st_size > 1000, f"no screenshot written at {shot}"
    result["screenshot"] = str(shot)
    print(f"screenshot of {html_path}: {shot}")
    os.unlink(probe)
    return result


def assert_report_reads_well(html_path, artefact_dir, width: int = 1024) -> dict:
    """:func:`check_report`, then: nothing wider than the page, no errors, every image and player works."""
    r = check_report(html_path, artefact_dir, width)
    assert r["scrollWidth"] <= r["clientWidth"], (
        f"{html_path}: page {r['scrollWidth']} px wide in a {r['clientWidth']} px window"
    )
    assert not r["wideContainers"], r
    assert r["tablesInScroll"] == r["tables"], f"{html_path}: a table outside a scrolling container: {r}"
    assert not r["problems"], r["problems"]
    assert not [c for c in r["console"] if "Uncaught" in c or "Failed to load" in c], r["console"]
    assert not r["brokenImages"] and not r["brokenAudio"], r
    assert r["audioDecoded"] == r["audio"], r
    return r


def check_if_chromium(html_path, artefact_dir) -> None:
    """:func:`assert_report_reads_well` where Chromium is installed; nothing otherwise (for tests whose
    subject is not the browser: the dedicated browser tests skip with a reason instead)."""
    if CHROMIUM is not None:
        assert_report_reads_well(html_path, artefact_dir)
