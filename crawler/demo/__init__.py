"""Bundled demo sites: a market, a forum and a paste site with synthetic offers of Pakistani personal data.

`crawler.demo.server.DemoSites` serves them on 127.0.0.1; `sources.yaml` describes them as nigran sources
(with `${market}`, `${forum}`, `${paste}` standing for the live base URLs); `expected.json` lists every
post and listing with its ground-truth kind, categories and language.
"""
from pathlib import Path

DEMO_DIR = Path(__file__).parent
SITES_DIR = DEMO_DIR / "sites"
SOURCES_TEMPLATE = DEMO_DIR / "sources.yaml"
EXPECTED = DEMO_DIR / "expected.json"
