# Two commands do all set-up: `make demo` and `make test`.
# Both create or update the virtual environment in .venv first (fast when it
# is up to date). WHEELHOUSE=<dir> points at prebuilt wheels (mmcv 2.1.0);
# without it mmcv is built from source once (about 30 minutes on 2 cores).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test venv clean-venv

venv: $(STAMP)

$(STAMP): setup.py requirements/runtime.txt requirements/dev.txt tools/install_env.sh
	bash tools/install_env.sh
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest tests -q -p no:cacheprovider

clean-venv:
	rm -rf $(VENV)
