# Thin wrapper over CMake + Ninja. `make` builds build/uvsd and build/uvsadm.
BUILD ?= build
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
MODE ?= nat

.PHONY: all build configure test demo install clean setup asan bench

all: build

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

configure: $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD)

setup:
	@scripts/setup

test: setup
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j2

demo: setup
	$(MAKE) build
	scripts/demo $(MODE)

asan:
	$(MAKE) BUILD=build-asan CMAKE_FLAGS="-DUVS_SANITIZE=ON -DUVS_BENCH=OFF" test

bench: build
	scripts/bench

install: build
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/uvsd $(BUILD)/uvsadm $(DESTDIR)$(PREFIX)/sbin/

clean:
	rm -rf $(BUILD) build-asan
