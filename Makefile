# Two commands do all set-up: `make demo` and `make test`.
# Both create or update the virtual environment in .venv first (fast when it
# is up to date). Nothing is compiled: mmcv-lite 2.1.0 is installed by default;
# MMCV_FULL=1 (with WHEELHOUSE=<dir of wheels>) installs the full mmcv instead.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test venv clean-venv

venv: $(STAMP)

$(STAMP): setup.py requirements/runtime.txt requirements/dev.txt requirements/mmcv_lite.txt tools/install_env.sh
	bash tools/install_env.sh
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest tests -q -p no:cacheprovider

clean-venv:
	rm -rf $(VENV)
