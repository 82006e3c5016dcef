"""The demo's sources: crawler/demo/sources.yaml with the live demo-site URLs filled in."""
from __future__ import annotations

from pathlib import Path
from string import Template

import yaml

from nigran.config.schema import Source, parse_sources

SOURCES_TEMPLATE = Path(__file__).with_name("sources.yaml")


def demo_sources(urls: dict[str, str]) -> list[Source]:
    """Validated demo sources pointing at the running demo sites (`urls`: site name -> base URL)."""
    bases = {name: url.rstrip("/") for name, url in urls.items()}
    text = Template(SOURCES_TEMPLATE.read_text(encoding="utf-8")).substitute(bases)
    return parse_sources(yaml.safe_load(text), str(SOURCES_TEMPLATE))
