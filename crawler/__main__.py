"""`python -m crawler` runs the nigran command line (the same as the `nigran` script)."""
from crawler.cli import main

main()
