# aspire — top-level entry points. CMake does the building underneath (build/, build-asan/).
#   make          build the library, the `aspire` program, tests and benchmarks
#   make test     install dependencies, build, run the whole suite through CTest
#   make demo     install, build and run `aspire run` on the default world (ERM), as far as it goes
#   make check-report  render demo-out/run/report.html in headless Chromium (needs `chromium`)
#   make asan     the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench-*  the benchmarks (see BENCHMARKS.md)
#   make fuzz     every libFuzzer target (fuzz/) for FUZZ_SECONDS each; make fuzz-ci: 10 s each
BUILD     ?= build
JOBS      ?= $(shell nproc)
CMAKE_OPTS ?=
WERROR    ?= OFF

.PHONY: all build deps deps-run test demo asan clean bench-engine bench-extract bench-methods format

all: build

deps:
	@scripts/install-deps.sh

deps-run:
	@scripts/install-deps.sh --run

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DASPIRE_WERROR=$(WERROR) $(CMAKE_OPTS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CMAKE_OPTS="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DASPIRE_SANITIZE=ON" build
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

demo: deps-run build
	@scripts/demo.sh

REPORT ?= demo-out/run/report.html
.PHONY: check-report
check-report:
	@scripts/check-report.sh $(REPORT)

bench-engine: deps build
	@scripts/bench-engine.sh

.PHONY: bench-world
bench-world: deps build
	@$(BUILD)/bench/world --runs 3

.PHONY: bench-extract
bench-extract: deps build
	@$(BUILD)/bench/extract

# The built-in generator: prompt fidelity, world-FID, textual inversion and speeds, scored by an
# oracle trained once on the world corpus (made once into $(BENCH_CORPUS)); writes the contact
# sheet docs/generator-samples.png and prints one JSON object last.
BENCH_CORPUS ?= $(BUILD)/bench-data/world-corpus
.PHONY: bench-generate
bench-generate: deps build
	@test -f $(BENCH_CORPUS)/scenes.jsonl || $(BUILD)/bin/aspire world corpus --out $(BENCH_CORPUS)
	@$(BUILD)/bench/generate --corpus $(BENCH_CORPUS) --oracle $(BUILD)/bench-data/generate-oracle.safetensors

# The robust-training baselines on the default world dataset (made once into $(BENCH_DATA)),
# SEEDS seeds each; writes its table into BENCHMARKS.md and prints one JSON object last.
BENCH_DATA ?= $(BUILD)/bench-data/world-task
SEEDS ?= 3
bench-methods: deps build
	@test -f $(BENCH_DATA)/metadata.csv || $(BUILD)/bin/aspire world task --out $(BENCH_DATA) --quiet
	@$(BUILD)/bench/methods --data $(BENCH_DATA) --runs $(BUILD)/bench-runs --seeds $(SEEDS) --md BENCHMARKS.md

# Fuzzing (clang + libFuzzer, ASan + UBSan; docs/RELIABILITY.md). One target at a time, one thread.
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 10
.PHONY: fuzz fuzz-build fuzz-ci
fuzz-build:
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DASPIRE_FUZZ=ON \
	       -DASPIRE_WERROR=$(WERROR) >/dev/null
	@cmake --build build-fuzz --target fuzzers -j $(JOBS)

fuzz: deps fuzz-build
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-ci: fuzz-build
	@scripts/fuzz.sh $(FUZZ_CI_SECONDS)

clean:
	rm -rf build build-asan build-fuzz

# The grounding and editing models as detection uses them (scripts/bench-edit.sh): bench/segment on a
# small world corpus's test part, then bench/edit with the segmenter's masks (true masks as the
# comparison row) on that corpus and on a task dataset's test counterfactuals, with the flip agreement
# of an ERM classifier trained once on the task dataset; writes docs/edit-sheet.png and
# docs/edit-failures.png; one merged JSON line last.
EDIT_CORPUS ?= $(BUILD)/bench-data/edit-corpus
EDIT_TASK ?= $(BUILD)/bench-data/edit-task
.PHONY: bench-edit
bench-edit: deps build
	@BUILD=$(BUILD) EDIT_CORPUS=$(EDIT_CORPUS) EDIT_TASK=$(EDIT_TASK) scripts/bench-edit.sh

# The proof (scripts/bench-aspire.sh): aspire run over 3 seeds with erm,jtt,dfr,groupdro and the
# ablations; the table of worst-group and mean accuracy with and without ASPIRE's images.
.PHONY: bench-aspire
bench-aspire: deps build
	@BUILD=$(BUILD) scripts/bench-aspire.sh

.PHONY: bench-language
bench-language: deps build
	@scripts/bench-language.sh

# ERM against the PyTorch anchor (../shared/anchors/pytorch_erm_anchor.py): accuracy over SEEDS
# seeds and the wall-time ratio, same data and recipe, measured in one run.
.PHONY: bench-anchor
bench-anchor: build
	@ASPIRE_WITH_TORCH=1 scripts/install-deps.sh
	@DATA=$(BENCH_DATA) SEEDS=$(SEEDS) scripts/bench-anchor.sh

# The built-in segmenter on the world corpus's test part (made once into $(SEG_CORPUS)): mIoU,
# recall, rejection, masks/s; writes the contact sheet docs/segmenter-sheet.png; one JSON line last.
SEG_CORPUS ?= $(BUILD)/bench-data/world-corpus
SEG_THREADS ?= 1
.PHONY: bench-segment
bench-segment: deps build
	@test -f $(SEG_CORPUS)/scenes.jsonl || $(BUILD)/bin/aspire world corpus --out $(SEG_CORPUS) --quiet
	@$(BUILD)/bench/segment --corpus $(SEG_CORPUS) --threads $(SEG_THREADS) --sheet docs/segmenter-sheet.png

# The discovery bench (scripts/bench-detect.sh, docs/DETECT.md): for DETECT_SEEDS world seeds and
# DETECT_OBJ_SEEDS object-only worlds, the world task dataset, ERM, `aspire detect`, then
# build/bench/detect scores detect against the world's counterfactual oracle; one JSON line last. Worlds, runs and detections
# are cached in $(BUILD)/bench-data/detect/ and reused; LOCK=FILE runs ERM and detect under flock.
DETECT_SEEDS ?= 5
DETECT_EPOCHS ?= 8
DETECT_THREADS ?= 1
DETECT_OBJ_SEEDS ?= 1
.PHONY: bench-detect
bench-detect: deps build
	@BUILD=$(BUILD) scripts/bench-detect.sh --seeds $(DETECT_SEEDS) --obj-seeds $(DETECT_OBJ_SEEDS) --epochs $(DETECT_EPOCHS) --threads $(DETECT_THREADS)
