# aspire — top-level entry points. CMake does the building underneath (build/, build-asan/).
#   make          build the library, the `aspire` program, tests and benchmarks
#   make test     install dependencies, build, run the whole suite through CTest
#   make demo     install, build and run the main job as far as it exists
#   make asan     the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench-*  the benchmarks (see BENCHMARKS.md)
BUILD     ?= build
JOBS      ?= $(shell nproc)
CMAKE_OPTS ?=
WERROR    ?= OFF

.PHONY: all build deps test demo asan clean bench-engine bench-extract format

all: build

deps:
	@scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DASPIRE_WERROR=$(WERROR) $(CMAKE_OPTS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CMAKE_OPTS="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DASPIRE_SANITIZE=ON" build
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

demo: deps build
	@scripts/demo.sh

bench-engine: deps build
	@scripts/bench-engine.sh

.PHONY: bench-world
bench-world: deps build
	@$(BUILD)/bench/world --runs 3

.PHONY: bench-extract
bench-extract: deps build
	@$(BUILD)/bench/extract

clean:
	rm -rf build build-asan
