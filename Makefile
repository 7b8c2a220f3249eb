# Lens in Go. Every target builds with Go 1.27 and the pure-Go backend's SIMD
# kernels; a fresh machine downloads the toolchain through the module proxy.
export GOTOOLCHAIN := go1.27.4
export GOEXPERIMENT := simd

GO ?= go
# The code version every result names (git describe; "devel" outside git).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
OUT ?= out
PRESET ?= tiny
FUZZTIME ?= 10s

.PHONY: all build test test-short fuzz bench vet fmt reproduce clean

all: build

build:
	@mkdir -p bin
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/lens ./cmd/lens

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

# test: vet, gofmt check, unit and differential tests, then a short run of every fuzz target.
test: build
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...
	cd third_party/gomlx-compute && $(GO) test -count=1 -run GuardPage ./internal/lenssafe/
	$(MAKE) fuzz

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReadCapture$$' -fuzztime $(FUZZTIME) ./netbench/capture
	$(GO) test -run '^$$' -fuzz '^FuzzDissect$$' -fuzztime $(FUZZTIME) ./netbench/dissect
	$(GO) test -run '^$$' -fuzz '^FuzzRoundTrip$$' -fuzztime $(FUZZTIME) ./netbench/bbpe

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

reproduce: build
	./bin/lens reproduce --preset $(PRESET) --out $(OUT)

clean:
	rm -rf bin
