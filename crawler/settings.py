"""Scrapy settings for nigran. Per-source values (delay, concurrency, depth) are set on each source's spider."""
from nigran.crawler.download import http_only

BOT_NAME = "nigran"
SPIDER_LOADER_CLASS = "nigran.spiders.loader.SourceSpiderLoader"
SPIDER_MODULES = ["spiders"]
NIGRAN_SOURCES = "config/sources.yaml"  # for `scrapy crawl`: overridden by $NIGRAN_SOURCES, and both by -s

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# One download handler for every route: httpx reads the raw (still encoded) body and speaks SOCKS5 to tor,
# resolving names inside Tor, with one deadline per response; no handler for any other scheme. See README,
# "Design notes" and "Security model".
DOWNLOAD_HANDLERS = http_only()

# Monitoring crime markets: robots.txt is not a consent mechanism here, and fetching it leaks interest.
ROBOTSTXT_OBEY = False
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
COOKIES_ENABLED = True
# No console that runs code inside the crawl: Scrapy's telnet console, and its RemoteControl HTTP server, on by
# default since 2.19 (it listens on localhost and leaves its token in the user's state directory).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

CONCURRENT_REQUESTS = 32
# A page yields tens of posts, not hundreds: Scrapy's 100 item tasks per response cost ~8 % of crawl CPU.
CONCURRENT_ITEMS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 10
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024

DOWNLOADER_MIDDLEWARES = {
    # No proxy from the environment: every route is chosen explicitly by RouteMiddleware.
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
    # Scrapy's cookie jar fetches the Public Suffix List from GitHub on first use; this one never fetches.
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    "nigran.crawler.cookies.OfflineCookiesMiddleware": 700,
    # Before routing: no request outside http(s) and the source's domains is sent, redirect hops included.
    "nigran.crawler.middlewares.ScopeMiddleware": 50,
    # After scope, before routing: a source with mirrors sends each request to the mirror in use.
    "nigran.crawler.middlewares.MirrorMiddleware": 60,
    "nigran.crawler.middlewares.RouteMiddleware": 80,
    # Below HttpCompressionMiddleware (590) and RedirectMiddleware (600), above MetaRefreshMiddleware (580)
    # and BlockMiddleware: a login wall or guard page (a captcha, a queue, a seizure banner) stops the
    # source, never retried, and a queue's refresh is waited out, not followed at once (crawler/guard.py).
    "nigran.crawler.guard.GuardMiddleware": 585,
    # Below HttpCompressionMiddleware (590), above RetryMiddleware (550): reads decoded pages, renews circuits.
    "nigran.crawler.middlewares.BlockMiddleware": 560,
    # Just below CookiesMiddleware (700): the source's session, stored or from a form login (crawler/logged_in.py).
    "nigran.crawler.logged_in.SessionMiddleware": 710,
    # Above HttpCompressionMiddleware (590) and RedirectMiddleware (600): sees every response
    # (redirects and errors too) with its body exactly as received, before decompression.
    "nigran.crawler.middlewares.EvidenceMiddleware": 950,
    # Just below it: for `render: browser` pages, also keeps the rendered DOM and screenshot (crawler/browser.py).
    "nigran.crawler.browser.BrowserEvidenceMiddleware": 940,
}
EXTENSIONS = {
    # What the components share (recorder, run, Tor, frontier, page budget): Runtime.of(crawler).
    "nigran.crawler.runtime.Runtime": 0,
    # Failed requests: one line each, and a source whose Tor died stops.
    "nigran.crawler.failures.FailureReport": 10,
    # A source stopped by a login wall or guard page: its status, its next step (crawler/guard.py).
    "nigran.crawler.guard.SourceStop": 20,
}
ITEM_PIPELINES = {
    "nigran.pipelines.offers.ExtractionPipeline": 300,
    "nigran.pipelines.store.StorePipeline": 500,
    # Last: what leaves through feed exports (`scrapy crawl -o`) is masked; the store above got raw values.
    "nigran.pipelines.outgoing.MaskPipeline": 900,
}
LOG_LEVEL = "INFO"
# Items are personal data: logged by their ids, never their values (crawler/logformatter.py).
LOG_FORMATTER = "nigran.crawler.logformatter.ItemRefLogFormatter"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_DATEFORMAT = "%Y-%m-%dT%H:%M:%SZ"
