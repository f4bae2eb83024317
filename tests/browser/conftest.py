"""Browser tests run the built PWA (pwa/dist), which the app serves on the API's origin."""

from __future__ import annotations

from pathlib import Path

DIST = Path(__file__).resolve().parents[2] / "pwa" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
