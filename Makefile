# medledger: `make run` starts a node, `make test` runs every test.

GO          ?= go
BIN         := bin/medledger
NODE_HOME   ?= $(HOME)/.medledger
TOOLS       := $(CURDIR)/bin/tools
STATICCHECK := $(TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
# Packages that run goroutines: the race detector runs on these.
RACE_PKGS   := ./internal/bench/ ./internal/gateway/ ./internal/store/ ./internal/cometbft/ ./internal/api/ ./internal/node/ ./internal/cli/ ./client/
# The web portal's crypto module (medledger's Go code compiled to WebAssembly) and Go's
# loader for it: built here, embedded by internal/web, never committed.
WASM        := internal/web/static/medledger.wasm
WASM_EXEC   := internal/web/static/wasm_exec.js

.PHONY: run build wasm chromium test lint unit race smoke fuzz bench perf clean testnet

build: wasm
	$(GO) build -o $(BIN) ./cmd/medledger

## wasm: the portal's crypto module, built before the binary that embeds it. Go's build
## cache makes this quick when nothing changed.
wasm:
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o $(WASM) ./internal/web/wasm
	gzip -9 -n -c $(WASM) > $(WASM).gz
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(WASM_EXEC)
	@echo "built $(WASM): $$(wc -c < $(WASM)) bytes, $$(wc -c < $(WASM).gz) gzip-compressed"

## chromium: Debian's Chromium for the portal's browser tests, installed when missing (as root).
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

## run: build, initialise $(NODE_HOME) on first use, start the node.
run: build
	@$(BIN) init --home $(NODE_HOME) --if-needed
	$(BIN) start --home $(NODE_HOME)

## testnet: build, then run a local network of four validator processes on loopback until
## interrupted; its configuration and logs stay in $(TESTNET_DIR) (a second run restarts it).
TESTNET_DIR ?= testnet
testnet: build
	$(BIN) testnet up --validators 4 --out $(TESTNET_DIR)

## test: formatting, vet, staticcheck, every test (the portal's in headless Chromium), the
## race detector, and `make run` itself.
test: wasm chromium lint unit race smoke

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	@out=$$(gofmt -l . | grep -v '^bin/'); if [ -n "$$out" ]; then echo "gofmt -l found unformatted files:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./internal/web/wasm
	$(STATICCHECK) ./...

unit:
	$(GO) test -count=1 -timeout 15m ./...

race:
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)

## smoke: the README's first command works: `make run`, then /healthz answers; and a short
## `medledger bench --baseline --json anchor` counts every tx it sent as committed.
smoke:
	scripts/smoke-run.sh
	scripts/smoke-bench.sh

## fuzz: run each fuzzer for a while (FUZZTIME, default 30s); new corpus entries stay in the cache.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeTx -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz FuzzCheckTx -fuzztime $(FUZZTIME) ./internal/ledger/
	$(GO) test -run '^$$' -fuzz FuzzParseDigitalLink -fuzztime $(FUZZTIME) ./gs1/
	$(GO) test -run '^$$' -fuzz FuzzParseEPC -fuzztime $(FUZZTIME) ./gs1/
	$(GO) test -run '^$$' -fuzz FuzzImport -fuzztime $(FUZZTIME) ./internal/epcis/

## bench: the hot paths (tx decode, signature verification, anchor apply on Pebble, sealing a
## 10 KB record, wrapping, client-side state and tx proof checks, the gateway's durable
## access-tx outbox), identity-tx throughput;
## supply: commissioning 100k serials, verify latency at 100k units (in process and over
## HTTP), readings ingested per second.
bench:
	$(GO) test -run '^$$' -bench 'DecodeTx|VerifySignature' -benchtime 10000x .
	$(GO) test -run '^$$' -bench DecodeAnchor -benchtime 10000x ./internal/records/
	$(GO) test -run '^$$' -bench 'Seal10KB|Wrap$$|Unwrap' -benchtime 500x ./seal/
	$(GO) test -run '^$$' -bench 'VerifyStateProof|VerifyTxProof' -benchtime 2000x ./client/
	$(GO) test -run '^$$' -bench OutboxAdd -benchtime 2000x ./internal/gateway/
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./internal/ledger/
	$(GO) test -run '^$$' -bench 'Commission100k|Readings' -benchtime 3x ./internal/supply/
	$(GO) test -run '^$$' -bench VerifyAt100k -benchtime 3000x ./internal/supply/
	$(GO) test -run '^$$' -bench SupplyVerifyHTTP -benchtime 1000x ./internal/node/

## perf: the node under load, side by side with the kvstore baseline (docs/performance.md).
perf: build
	$(BIN) bench --baseline anchor
	$(BIN) bench read
	$(BIN) bench verify
	$(BIN) bench --nodes 4 --baseline anchor

clean:
	rm -rf bin $(WASM) $(WASM_EXEC)
