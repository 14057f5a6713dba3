"""Read pages with pywikibot's PreloadingGenerator; run in its own process by
bench/constellation_sync.py, with PYWIKIBOT_DIR set to a temporary folder.

Usage: python bench/pywikibot_reads.py API_URL TITLES_FILE -> one JSON line
{"seconds": ..., "requests": ..., "pages": ...}. Its own process because pywikibot
reads its configuration once, at import, from the environment and a base folder.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def read_all(api_url: str, titles: list[str]) -> dict[str, Any]:
    os.environ.setdefault("PYWIKIBOT_NO_USER_CONFIG", "2")  # no user-config.py, no warning
    import pywikibot
    from pywikibot import pagegenerators
    from pywikibot.comms import http
    from pywikibot.family import AutoFamily

    pywikibot.config.maxlag = 0
    pywikibot.config.minthrottle = 0
    pywikibot.config.maxthrottle = 0
    family = AutoFamily("constellatebench", api_url)
    site = pywikibot.Site("constellatebench", family)
    # Warm up (site info, API parameters) before timing, as our client logs in first.
    list(pagegenerators.PreloadingGenerator([pywikibot.Page(site, titles[0])]))
    requests_made = 0

    def count(response: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal requests_made
        requests_made += 1

    http.session.hooks["response"].append(count)
    started = time.perf_counter()
    pages = [pywikibot.Page(site, title) for title in titles]
    read = sum(1 for page in pagegenerators.PreloadingGenerator(pages) if page.text)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "requests": requests_made, "pages": read}


if __name__ == "__main__":
    wanted = Path(sys.argv[2]).read_text().splitlines()
    print(json.dumps(read_all(sys.argv[1], wanted)))
