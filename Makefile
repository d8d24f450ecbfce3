# The two set-up commands on a fresh Debian 12 machine (as root): `make demo` and `make test`.
# Both install what is missing with apt-get, build, then run the main job or every test.

BUILD_DIR ?= build
JOBS ?= $(shell nproc)

# Debian packages: build toolchain and libraries, then the real tools integration tests drive.
BUILD_PACKAGES := g++ cmake ninja-build pkg-config libssl-dev libcurl4-openssl-dev libarchive-dev \
  libyaml-cpp-dev nlohmann-json3-dev catch2 libzstd-dev libfmt-dev libdeflate-dev zlib1g-dev \
  libbz2-dev libsolv-dev libsolvext-dev libsimdjson-dev
TOOL_PACKAGES := git skopeo umoci runc crun docker-registry apache2-utils golang-go \
  golang-github-opencontainers-image-spec-dev pigz zstd tar gzip python3 python3-yaml python3-packaging iproute2 util-linux \
  busybox-static curl openssl time attr libcap2-bin mmdebstrap apt-utils jq \
  python3-numpy python3-mpi4py binutils python3-pip python3-pip-whl python3-setuptools-whl \
  python3-sklearn openssh-server

.PHONY: all deps build binary test demo bench format clean

all: build

deps:
	@missing=""; for p in $(BUILD_PACKAGES) $(TOOL_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get) or install:$$missing" >&2; exit 1; fi; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Only the binary and its two static helpers: a newcomer's `make demo` does not wait for the tests.
binary: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS) --target envpack envpack-pause envpack-agent

demo: binary
	ENVPACK=$(BUILD_DIR)/cli/envpack bash examples/demo.sh

bench: build
	@for b in bench/*.sh; do echo "== $$b"; ENVPACK=$(BUILD_DIR)/cli/envpack BUILD_DIR=$(BUILD_DIR) bash $$b || exit 1; done

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD_DIR)
