# qrlogin: two commands do everything on a fresh machine.
#   make dev    bootstrap .venv, run the whole local stack, print the URLs
#   make test   bootstrap .venv, run every test tier
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 3000
HOST ?= 127.0.0.1
PARAMS ?=
STAMP := $(VENV)/.installed
# AWS SAM CLI lives in its own venv: its boto3/cfn-lint pins clash with ours.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
# checkov (the template tier's IaC scan) likewise: it pins many dependencies of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# Node packages the oidc and idp tiers start (node-oidc-provider, openid-client, aws-jwt-verify), pinned by
# package-lock.json; nothing else needs Node (make dev and the other tiers run without it).
NODE_STAMP := node_modules/.installed

.PHONY: node dev test check lint types unit integration browser browser-stress oidc idp template load bench clean sam checkov

$(STAMP): requirements-dev.txt functions/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(SAM_STAMP): requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $(SAM_STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

sam: $(SAM_STAMP)

checkov: $(CHECKOV_STAMP)

node: $(NODE_STAMP)

dev: $(STAMP)
	$(PY) -m localcloud --host $(HOST) --port $(PORT) $(foreach p,$(PARAMS),--param $(p))

test: $(STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) $(NODE_STAMP)
	$(PY) -m pytest

integration: $(STAMP)
	$(PY) -m pytest tests/integration

browser: $(STAMP)
	$(PY) -m pytest tests/browser

# The browser tier 3 times in a row with a CPU burner per core (issue 14: stable under load).
browser-stress: $(STAMP)
	tests/browser/stress.sh 3

oidc: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest tests/oidc

idp: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest tests/idp

load: $(STAMP)
	$(PY) -m pytest tests/load

unit: $(STAMP)
	$(PY) -m pytest tests/unit

template: $(STAMP) $(SAM_STAMP) $(CHECKOV_STAMP)
	$(PY) -m pytest tests/template

lint: $(STAMP)
	$(VENV)/bin/ruff check functions localcloud tests bench scripts

types: $(STAMP)
	$(VENV)/bin/mypy

check: lint types test

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) node_modules .pytest_cache build .aws-sam
