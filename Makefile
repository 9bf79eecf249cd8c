# Release builds, packages and the container image. Every target is a thin
# wrapper around go commands; `make help` lists them.
#
#   make build                  ./crier for this machine, version-stamped
#   make release                static binaries for linux amd64, arm64, armv7 in dist/
#   make deb ARCH=arm64         dist/crier_VERSION_arm64.deb (ARCH: amd64, arm64, armv7 -> armhf)
#   make image ARCH=amd64       dist/crier_VERSION_amd64.image.tar (docker/podman load) and an OCI layout
#   make test                   the test suite, as CI runs it
#   make clean

GO      ?= go
# vX.Y.Z tags give X.Y.Z; between tags git describe's X.Y.Z-N-gHASH; no tag: 0.0.0-dev.
VERSION ?= $(or $(patsubst v%,%,$(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null)),0.0.0-dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)$(if $(shell git status --porcelain 2>/dev/null),-dirty)
# The commit's time, not the build's: rebuilding a commit gives the same binary.
DATE    ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
ARCH    ?= amd64
BIN     ?= crier
DIST    ?= dist

PKG     := github.com/crierd/crier
LDFLAGS := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT) -X $(PKG).Date=$(DATE)
ARCHES  := amd64 arm64 armv7
# armv7 is GOARCH=arm GOARM=7 (Raspberry Pi 2 and later with a 32-bit OS).
goarch   = $(if $(filter armv7,$(1)),arm,$(1))
goarm    = $(if $(filter armv7,$(1)),7)
# One static binary per target: no cgo, no build paths, stamped.
gobuild  = CGO_ENABLED=0 GOOS=linux GOARCH=$(call goarch,$(1)) GOARM=$(call goarm,$(1)) \
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(2) ./cmd/crier
RELBIN   = $(DIST)/crier_$(VERSION)_linux_$(1)

.PHONY: help build release deb image test clean

help:
	@sed -n 's/^#   //p' Makefile

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/crier

release:
	$(foreach a,$(ARCHES),$(call gobuild,$(a),$(call RELBIN,$(a))) &&) true
	cd $(DIST) && sha256sum crier_$(VERSION)_linux_* > crier_$(VERSION)_SHA256SUMS

deb:
	$(call gobuild,$(ARCH),$(call RELBIN,$(ARCH)))
	$(GO) run ./packaging/cmd/crier-package deb --arch $(ARCH) --version $(VERSION) --date=$(DATE) --binary $(call RELBIN,$(ARCH)) --out $(DIST)

image:
	$(call gobuild,$(ARCH),$(call RELBIN,$(ARCH)))
	$(GO) run ./packaging/cmd/crier-package image --arch $(ARCH) --version $(VERSION) --commit=$(COMMIT) --date=$(DATE) --binary $(call RELBIN,$(ARCH)) --out $(DIST)

test:
	$(GO) test -race ./...

clean:
	rm -rf $(DIST) crier
