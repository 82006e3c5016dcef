"""`python -m nigran.crawler` runs the nigran command line (the same as the `nigran` script)."""
from nigran.crawler.cli import main

main()
