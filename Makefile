# Thin wrapper over CMake + Ninja. `make` builds build/uvsd and build/uvsadm.
BUILD ?= build
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
MODE ?= nat

.PHONY: all build configure test demo install deb clean setup asan bench fuzz

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

# libFuzzer, clang with ASan/UBSan, bounded in time (FUZZ_SECONDS) and executions (FUZZ_RUNS,
# -1: no bound). FUZZ_TARGET picks tests/fuzz/<name>_fuzz.cc: pipeline (parse + pipeline,
# the default), control_request (the control socket's frame readers and request decoder),
# restore_line or sync_message (what a sync backup does with a datagram).
FUZZ_SECONDS ?= 120
FUZZ_RUNS ?= -1
FUZZ_TARGET ?= pipeline
FUZZ_BUILD ?= build-fuzz
fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DUVS_FUZZ=ON -DUVS_BENCH=OFF
	cmake --build $(FUZZ_BUILD) --target fuzz_$(FUZZ_TARGET)_fuzz
	mkdir -p $(FUZZ_BUILD)/corpus-$(FUZZ_TARGET)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(FUZZ_BUILD)/tests/fuzz_$(FUZZ_TARGET)_fuzz -max_total_time=$(FUZZ_SECONDS) \
	  -runs=$(FUZZ_RUNS) -max_len=8192 -print_final_stats=1 $(FUZZ_BUILD)/corpus-$(FUZZ_TARGET)

bench: build
	scripts/bench

# What make install and the Debian package ship (and build: not the tests or benchmarks).
INSTALL_TARGETS = uvsd uvsadm uvs-decap uvs-ipvs uvs_ipvs_preload uvs_bpf
# systemd units: /etc/systemd/system for a local install, /lib/systemd/system in the package.
SYSTEMD_DIR ?= /etc/systemd/system

install: configure
	cmake --build $(BUILD) --target $(INSTALL_TARGETS)
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/uvsd $(BUILD)/uvsadm $(BUILD)/uvs-decap $(BUILD)/uvs-ipvs $(DESTDIR)$(PREFIX)/sbin/
	# uvsd and uvs-decap look for their XDP objects in ../lib/uvs beside their directory, and
	# uvs-ipvs for libuvs-ipvs.so.
	install -d $(DESTDIR)$(PREFIX)/lib/uvs
	install -m 0644 $(BUILD)/bpf/steer.bpf.o $(BUILD)/bpf/pass.bpf.o $(BUILD)/bpf/decap.bpf.o $(DESTDIR)$(PREFIX)/lib/uvs/
	install -m 0644 $(BUILD)/libuvs-ipvs.so $(DESTDIR)$(PREFIX)/lib/uvs/
	# The real-server script, the cluster announcement/drain script and the table template.
	install -d $(DESTDIR)$(PREFIX)/share/uvs
	install -m 0755 scripts/realserver $(DESTDIR)$(PREFIX)/share/uvs/realserver
	install -m 0755 scripts/uvs-announce $(DESTDIR)$(PREFIX)/share/uvs/uvs-announce
	install -m 0644 packaging/rules $(DESTDIR)$(PREFIX)/share/uvs/rules
	install -d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 packaging/man/uvsd.8 packaging/man/uvsadm.8 packaging/man/uvs-ipvs.8 packaging/man/uvs-decap.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	# uvsd.service, its options (/etc/default/uvs) and its table (/etc/uvs/rules); an existing
	# options file or table is kept.
	install -d $(DESTDIR)$(SYSTEMD_DIR) $(DESTDIR)/etc/default $(DESTDIR)/etc/uvs
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' packaging/systemd/uvsd.service > $(DESTDIR)$(SYSTEMD_DIR)/uvsd.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_DIR)/uvsd.service
	[ -e $(DESTDIR)/etc/default/uvs ] || install -m 0644 packaging/default-uvs $(DESTDIR)/etc/default/uvs
	[ -e $(DESTDIR)/etc/uvs/rules ] || install -m 0644 packaging/rules $(DESTDIR)/etc/uvs/rules
	# keepalived.service under libuvs-ipvs.so (systemd drop-in naming the installed library).
	install -d $(DESTDIR)$(SYSTEMD_DIR)/keepalived.service.d
	sed 's|@PREFIX@|$(PREFIX)|g' packaging/keepalived.service.d/uvs-ipvs.conf > $(DESTDIR)$(SYSTEMD_DIR)/keepalived.service.d/uvs-ipvs.conf
	chmod 0644 $(DESTDIR)$(SYSTEMD_DIR)/keepalived.service.d/uvs-ipvs.conf

# The Debian package, built by dpkg-buildpackage from a copy of this tree in $(DEB_DIR)/src
# (kept between runs, so a second build is incremental); the .deb lands in $(DEB_DIR).
DEB_DIR ?= $(BUILD)/deb
deb: setup
	scripts/build-deb $(DEB_DIR)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
