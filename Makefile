# The two commands of the README: `make demo` and `make test`. Both install what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test bench
install:
	./scripts/install.sh $(VENV)

demo: install
	$(VENV)/bin/nigran demo

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/crawl_bench.py
