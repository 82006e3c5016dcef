"""The settings of Scrapy's own commands (scrapy.cfg): nigran's, with the environment's nigran settings over
the defaults, read once as the process starts, so that `scrapy crawl -s NAME=VALUE` (Scrapy's "cmdline"
priority) beats the environment, which beats the defaults; and nigran's `scrapy crawl` command."""
from nigran.config.registry import scrapy_overrides
from nigran.crawler.settings import *  # noqa: F403

COMMANDS_MODULE = "nigran.crawler.commands"
globals().update(scrapy_overrides())
