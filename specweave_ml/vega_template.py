"""Build an HTML template for ``dvc plots show`` that renders offline.

DVC's default template loads Vega from a CDN, so on a machine without internet the page stays blank.
This fetches vega, vega-lite and vega-embed from the npm registry (``npm pack``), inlines their minified
builds into one template, and writes it where ``.dvc/config`` (``plots.html_template``) points.

    python -m specweave_ml.vega_template            # writes .dvc/plots/offline.html
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGES = {"vega@5": "build/vega.min.js", "vega-lite@5": "build/vega-lite.min.js", "vega-embed@6": "build/vega-embed.min.js"}
DEFAULT = Path(".dvc") / "plots" / "offline.html"


def build(out: Path = DEFAULT) -> Path:
    scripts = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec, member in PACKAGES.items():
            done = subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", tmp], capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"error: npm pack {spec} failed: {done.stderr.strip()[:300]}. Fix: check that npm can reach its registry")
            tarball = Path(tmp) / done.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as tar:
                js = tar.extractfile(f"package/{member}").read().decode("utf-8")
            js = js.replace("</script>", "<\\/script>")
            scripts.append(f"<script>/* {spec} */\n{js}\n</script>")
    html = ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>DVC plots</title>\n"
            + "\n".join(scripts) + "\n</head>\n<body>\n{plot_divs}\n</body>\n</html>\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
