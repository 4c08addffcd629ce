# The README's commands. Each one installs what is missing, configures, builds (with ccache) and runs.
#   make demo   - set everything up and run the demo (for now: the core benchmark)
#   make test   - the whole test suite
#   make asan   - the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan   - the concurrency tests under ThreadSanitizer
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
JOBS ?= $(shell nproc)
export CCACHE_BASEDIR := $(ROOT)
export CCACHE_DIR ?= $(HOME)/.cache/ccache
CMAKE_FLAGS := -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache

.PHONY: deps build test asan tsan demo bench clean

deps:
	@$(ROOT)/scripts/install-deps.sh

build: deps
	cmake -S $(ROOT) -B build/release $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Release
	cmake --build build/release -j $(JOBS)

test: build
	cd build/release && ctest --output-on-failure -j $(JOBS) --timeout 300

asan: deps
	cmake -S $(ROOT) -B build/asan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DPODCACHE_SANITIZE=address
	cmake --build build/asan -j $(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600

# TSan covers the tests labelled "concurrency" (single-flight, store, group, scheduler).
tsan: deps
	cmake -S $(ROOT) -B build/tsan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DPODCACHE_SANITIZE=thread
	cmake --build build/tsan -j $(JOBS)
	cd build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600 -L concurrency

bench: build
	build/release/bench/podcache_core_bench

demo: bench

clean:
	rm -rf build
