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

# TSan runs every C++ test binary (core and sidecar; `ctest -L concurrency` narrows it to the
# multi-threaded cases). The integration tests (label "integration") run real podcache processes
# whose gRPC, Abseil and cpprestsdk come prebuilt from Debian, without TSan instrumentation: TSan
# cannot see their locking and reports races inside them, so those tests run under ASan instead.
tsan: deps
	cmake -S $(ROOT) -B $(ROOT)/build/tsan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DPODCACHE_SANITIZE=thread
	cmake --build $(ROOT)/build/tsan -j $(JOBS)
	cd $(ROOT)/build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600 -LE integration

bench: build
	$(ROOT)/build/release/bench/podcache_core_bench

demo: build
	$(ROOT)/scripts/demo.sh $(ROOT)/build/release

clean:
	rm -rf build
