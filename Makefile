# The two fresh-machine commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: run test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all]"
	# torch (CPU build 2.13) is used by the tests only: a second Keras backend and
	# the reference model for torchvision weight porting.
	$(PY) -m pip install -q "torch==2.13.0"
	touch $(STAMP)

install: $(STAMP)

# Main job: train on the embedded default data (scikit-learn digits), then export (a rerun
# replaces its own saved_models/resnet20; train.py alone refuses an existing export).
run: $(STAMP)
	$(PY) scripts/train.py --export --overwrite_export

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests

clean:
	rm -rf $(VENV) runs .pytest_cache
