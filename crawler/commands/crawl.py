"""`scrapy crawl SOURCE`, exiting as `nigran crawl` does."""
from __future__ import annotations

from scrapy.commands import crawl


class Command(crawl.Command):
    """Scrapy's crawl command, with the exit status of the run the Runtime recorded (`nigran/exit_code`): 1 when
    the source failed, 130 when interrupted, and 1 when the run could not be closed (the stat never set)."""

    def _create_crawler(self, spidercls):
        self.crawler = super()._create_crawler(spidercls)
        return self.crawler

    def run(self, args, opts) -> None:
        super().run(args, opts)
        if not self.exitcode:
            self.exitcode = int(self.crawler.stats.get_value("nigran/exit_code", 1))
