# The book's commands. `make book` and `make test` are the two a new user needs (see README.md).
# Both create the virtual environment .venv on first use. Every recipe runs in the project root, so
# `make -C path/to/book test` and `make -f path/to/book/Makefile test` work from any directory.
ROOT   := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PYTHON ?= python3
VENV   := $(ROOT)/.venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Data: the offline copies next to the project (when that folder exists), unless the caller points elsewhere.
ifneq ($(wildcard $(ROOT)/../shared/data),)
export BOOK_DATA_DIR ?= $(abspath $(ROOT)/../shared/data)
endif

.PHONY: book test unit lab execute rebuild clean env bench pdf check-browser book-zh pdf-zh pot po po-status

env: $(STAMP)

# A Python older than the book supports stops here with one line saying so (not with a pip error).
$(STAMP): $(ROOT)/requirements.txt $(ROOT)/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: '$(PYTHON)' not found; install Python 3.10 or newer, or run make PYTHON=/path/to/python3"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "error: the book needs Python 3.10 or newer; $(PYTHON) is " + sys.version.split()[0] + ". Run: make PYTHON=python3.12 (any 3.10+)")'
	cd $(ROOT) && { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); }
	cd $(ROOT) && $(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -c "import torch; assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__"
	touch $(STAMP)

## make book: build the HTML book from the stored notebook outputs, zero warnings allowed
book: $(STAMP)
	cd $(ROOT) && $(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book: $(ROOT)/_build/html/index.html"

## make book-zh: the Chinese edition (中文版) from the same notebooks and the catalogues in
## locale/zh_CN/LC_MESSAGES: _build/zh/html/index.html, zero warnings allowed
book-zh: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.i18n html

## make pot: extract every page's messages (paragraphs, headings, captions, table cells) into
## _build/i18n/gettext/<page>.pot; make po: update locale/zh_CN/LC_MESSAGES/<page>.po from them
## (new English arrives untranslated, changed English fuzzy); make po-status: coverage per page
pot: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.i18n pot

po: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.i18n po

po-status: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.i18n status

## make test: unit tests, notebook hygiene, and every notebook executed (quick mode) under nbval
## (its wall time and exit status go to _build/test_time.json, which `make bench` reports).
## Two pytest workers with one thread each (TEST_WORKERS=1 for one): much of quick mode is
## single-threaded (kernel starts, imports, small tensors), so two overlap well; --dist loadfile keeps
## each notebook's cells in one worker and one kernel, in order. Two workers of two threads each would
## oversubscribe the cores. Measured on 2 cores: 405 s in one process, 284-303 s in two.
TEST_WORKERS ?= 2
TEST_PARALLEL := $(if $(filter 1,$(TEST_WORKERS)),,OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile)
test: $(STAMP)
	@mkdir -p $(ROOT)/_build
	@cd $(ROOT) && start=$$(date +%s); BOOK_QUICK=1 $(or $(TEST_PARALLEL),$(BIN)/python -m pytest); rc=$$?; \
	  printf '{"seconds": %s, "exit": %s, "date": "%s"}\n' $$(( $$(date +%s) - start )) $$rc "$$(date -u +'%Y-%m-%d %H:%M UTC')" > _build/test_time.json; \
	  exit $$rc

## make unit: the unit tests of utils/ and tools/ alone (tests/, no notebook executed), less those
## marked slow, under a minute: the edit-test loop. `make test` adds every notebook in quick mode (nbval).
unit: $(STAMP)
	cd $(ROOT) && BOOK_QUICK=1 $(BIN)/python -m pytest tests -q -m "not slow"

## make bench: one table of render, test and notebook times, layer speed ratios, throughput, MFU
## (also _build/bench.json). Run it with nothing else busy on the machine. The notebook times come from
## one run (the last `make rebuild`) on one machine, named above the table; RECORDS=1 prints only those
## (read from the notebooks' run records, nothing measured): the README's table.
bench: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.bench $(if $(RECORDS),--records-only)

## make pdf: the PDF edition through LaTeX (xelatex, for the Chinese headings): _build/latex/book.pdf
pdf: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.pdf

## make pdf-zh: the Chinese PDF, the same way: _build/zh/latex/book.pdf
pdf-zh: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.pdf --lang zh_CN

## make check-browser: every page of both editions (make book and make book-zh first) loaded in headless
## Chromium and checked, a notebook opened in JupyterLab; screenshots in _build/screenshots.
## EDITION=en (or zh): one edition only; SITE=folder: the published layout (English in it, Chinese in zh/)
check-browser: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.browser_check --lab $(if $(EDITION),--edition $(EDITION)) $(if $(SITE),--site $(SITE))

## make execute: re-run every notebook in full mode in place with the usual weights cache
## (NB=path/to/one.ipynb for one notebook); each page's run record says which cached weights it read
execute: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.rebuild --keep-cache $(NB)

## make rebuild: every notebook in full mode from an EMPTY weights cache, providers before readers,
## one run id and one machine for all pages (this produces the stored outputs the book ships);
## RESUME=1 finishes a stopped rebuild from its failed page, KEEP_CACHE=1 uses the usual cache (warm)
rebuild: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m tools.rebuild $(if $(RESUME),--resume) $(if $(KEEP_CACHE),--keep-cache)

## make lab: JupyterLab on the book's environment
lab: $(STAMP)
	cd $(ROOT) && $(BIN)/jupyter lab

clean:
	rm -rf $(ROOT)/_build
