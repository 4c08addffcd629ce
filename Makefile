# The README's commands. Each one installs what is missing, configures, builds (with ccache) and runs.
#   make demo   - set everything up and run the demo: a sidecar, a slow app, a client
#   make test   - the whole test suite
#   make asan   - the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan   - the test suite under ThreadSanitizer
#   make thread-safety - everything built by clang-16 with its lock analysis as errors
#   make format-check - clang-format-16 over every C++ file (make format applies it)
#   make fuzz   - every libFuzzer target for FUZZ_SECONDS (default 60) each
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
JOBS ?= $(shell nproc)
export CCACHE_BASEDIR := $(ROOT)
export CCACHE_DIR ?= $(HOME)/.cache/ccache
CMAKE_FLAGS := -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache

.PHONY: deps build test asan tsan thread-safety format-check format fuzz demo bench clean

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

# TSan runs the C++ test binaries (core, discovery and sidecar; `ctest -L concurrency` narrows it to
# the multi-threaded cases). The integration tests (label "integration") run real podcache
# processes whose gRPC, Abseil and cpprestsdk come prebuilt from Debian, without TSan
# instrumentation: TSan cannot see their locking and reports races inside them, so those tests run
# under ASan instead. The transport tests run in-process gRPC servers and clients, so for the same
# reason they are not registered in a TSan build (tests/CMakeLists.txt) and run under ASan.
tsan: deps
	cmake -S $(ROOT) -B $(ROOT)/build/tsan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DPODCACHE_SANITIZE=thread
	cmake --build $(ROOT)/build/tsan -j $(JOBS)
	cd $(ROOT)/build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600 -LE integration

# Clang's thread-safety analysis (PODCACHE_THREAD_SAFETY, core/thread_annotations.h): clang-16
# builds the libraries, both binaries, the tests and the fuzz replayers (not the benchmarks) in
# build/thread-safety, and fails on a GUARDED_BY member touched without its lock, a REQUIRES
# function called without it, a lock left held, or an ignored Status. Then `ctest -L thread-safety`
# proves the analysis still rejects each of those (tests/thread_safety); the test suite itself runs
# in the other builds.
# clang-format-16 with the checked-in .clang-format over every tracked C++ file (`make format` fixes).
format-check: deps
	$(ROOT)/scripts/check-format.sh

format: deps
	$(ROOT)/scripts/check-format.sh --fix

thread-safety: deps
	CC=clang-16 CXX=clang++-16 cmake -S $(ROOT) -B $(ROOT)/build/thread-safety $(CMAKE_FLAGS) \
	  -DCMAKE_BUILD_TYPE=Debug -DPODCACHE_THREAD_SAFETY=ON -DPODCACHE_BENCH=OFF
	cmake --build $(ROOT)/build/thread-safety -j $(JOBS)
	cd $(ROOT)/build/thread-safety && ctest --output-on-failure -L thread-safety

# The fuzz suite (fuzz/, docs/development.md "Fuzzing"): clang-16 with libFuzzer, ASan and UBSan, in build/fuzz.
# Each target runs FUZZ_SECONDS, FUZZ_JOBS of them at once (default 1), starting from the
# checked-in corpus; new inputs go to build/fuzz/corpus/<name>, crashes to
# build/fuzz/artifacts/<name>/. FUZZ_TARGETS="config dns_answer" runs only those.
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
FUZZ_TARGETS ?=
fuzz: deps
	CC=clang-16 CXX=clang++-16 cmake -S $(ROOT) -B $(ROOT)/build/fuzz $(CMAKE_FLAGS) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODCACHE_FUZZ=ON -DPODCACHE_SANITIZE=address -DPODCACHE_BENCH=OFF
	cmake --build $(ROOT)/build/fuzz -j $(JOBS) --target fuzz_targets
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) $(ROOT)/scripts/fuzz.sh $(ROOT)/build/fuzz $(FUZZ_TARGETS)

bench: build
	$(ROOT)/build/release/bench/podcache_core_bench

demo: build
	$(ROOT)/scripts/demo.sh $(ROOT)/build/release

clean:
	rm -rf build
