# The book's commands. `make book` and `make test` are the two a new user needs (see README.md).
# Both create the virtual environment .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Data: the offline copies next to the project (when that folder exists), unless the caller points elsewhere.
ifneq ($(wildcard ../shared/data),)
export BOOK_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: book test lab execute clean env

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -c "import torch; assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__"
	touch $(STAMP)

## make book: build the HTML book from the stored notebook outputs, zero warnings allowed
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book: $(abspath _build/html/index.html)"

## make test: unit tests, notebook hygiene, and every notebook executed (quick mode) under nbval
test: $(STAMP)
	BOOK_QUICK=1 $(BIN)/python -m pytest

## make execute: re-run every notebook in full mode in place (this produces the stored outputs)
execute: $(STAMP)
	$(BIN)/python -m utils.notebooks $(NB)

## make lab: JupyterLab on the book's environment
lab: $(STAMP)
	$(BIN)/jupyter lab

clean:
	rm -rf _build
