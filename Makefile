# vireo: the two commands a user needs on a fresh Debian 12 machine.
#   make run   install what is missing, build, prepare the default guest, boot it
#   make test  the same set-up, then the whole test suite
BUILD ?= build
JOBS ?= $(shell nproc)
GUEST_DIR := $(BUILD)/guest
VIREO := $(BUILD)/vireo
RUN_ARGS ?=

.PHONY: all deps build guest run test unit difftest bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

guest: deps
	@scripts/make-guest.sh $(GUEST_DIR)

run: build guest
	@$(VIREO) run --kernel $(GUEST_DIR)/vmlinuz --initrd $(GUEST_DIR)/initramfs.cpio.gz $(RUN_ARGS)

test: build guest
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

# make difftest N=1000000: N random cases, the interpreter against the CPU
# (JIT=1: with every block translated to host code first).
N ?= 100000
JIT ?=
difftest: build
	@$(BUILD)/tests/difftest/vireo_difftest --count $(N) $(if $(JIT),--jit)

bench: build guest
	@scripts/install-deps.sh --bench
	@bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD)
