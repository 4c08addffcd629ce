# The README's commands. Each one installs what is missing, configures, builds (with ccache) and runs.
#   make demo   - set everything up and run the demo: a sidecar, a slow app, a client
#   make test   - the whole test suite
#   make asan   - the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan   - the test suite under ThreadSanitizer
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
	cmake -S $(ROOT) -B $(ROOT)/build/release $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(ROOT)/build/release -j $(JOBS)

test: build
	cd $(ROOT)/build/release && ctest --output-on-failure -j $(JOBS) --timeout 300

asan: deps
	cmake -S $(ROOT) -B $(ROOT)/build/asan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DPODCACHE_SANITIZE=address
	cmake --build $(ROOT)/build/asan -j $(JOBS)
	cd $(ROOT)/build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600

# TSan runs the whole suite; `ctest -L concurrency` narrows it to the multi-threaded cases.
tsan: deps
	cmake -S $(ROOT) -B $(ROOT)/build/tsan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DPODCACHE_SANITIZE=thread
	cmake --build $(ROOT)/build/tsan -j $(JOBS)
	cd $(ROOT)/build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	$(ROOT)/build/release/bench/podcache_core_bench

demo: build
	$(ROOT)/scripts/demo.sh $(ROOT)/build/release

clean:
	rm -rf build
