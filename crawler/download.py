"""nigran's one way onto the network: httpx (SOCKS5 with names resolved in Tor), http(s) only, bounded in time.

httpx's timeouts apply to each read, so a server trickling a byte every few seconds could hold a download,
and with it a sweep's lock, for ever. `DeadlineDownloadHandler` gives every download one deadline, its
`download_timeout`, for the whole response, and gives up at once when the crawl is being stopped (SIGTERM),
instead of letting Scrapy's graceful stop wait for the slowest server.
"""
from __future__ import annotations

import asyncio

from scrapy.core.downloader.handlers._httpx import HttpxDownloadHandler
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest

HANDLER = "nigran.crawler.download.DeadlineDownloadHandler"
# Scrapy also ships data:, file:, ftp: and s3: handlers. None of them can be routed through Tor, and file:
# would turn the crawler's own files into "evidence": every scheme but http(s) has no handler at all.
OTHER_SCHEMES = ("data", "file", "ftp", "s3")
STOP_POLL = 0.5  # seconds between looks at whether the crawl is stopping, while a download runs


class CrawlStopping(IgnoreRequest):
    """A download given up because the crawl is being stopped: not an error of the source."""


def http_only(handler: str = HANDLER) -> dict[str, str | None]:
    """A DOWNLOAD_HANDLERS setting: `handler` for http and https, no handler for any other scheme."""
    return {"http": handler, "https": handler, **dict.fromkeys(OTHER_SCHEMES)}


class DeadlineDownloadHandler(HttpxDownloadHandler):
    """Scrapy's httpx handler with one deadline per download, cut short when the engine stops."""

    async def download_request(self, request):
        timeout = request.meta.get("download_timeout") or self.crawler.settings.getfloat("DOWNLOAD_TIMEOUT")
        download = asyncio.ensure_future(super().download_request(request))
        try:
            async with asyncio.timeout(timeout):
                while not (await asyncio.wait({download}, timeout=STOP_POLL))[0]:
                    if self.crawler.engine is not None and not self.crawler.engine.running:
                        raise CrawlStopping(f"{request.url}: the crawl is stopping")
        except TimeoutError:
            raise DownloadTimeoutError(f"Getting {request.url} took longer than {timeout} seconds "
                                       f"(the whole response)") from None
        finally:
            if not download.done():
                download.cancel()
                await asyncio.gather(download, return_exceptions=True)
        return download.result()
