# Pocketbus: `make test` runs every test and installs what it needs itself.
GO ?= go

.PHONY: test test-go test-sdk test-web sdk-deps web build bench screenshots

test: test-go test-sdk test-web

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

# The JavaScript SDK (sdk/js), which the web app links as @pocketbus/client.
sdk-deps:
	cd sdk/js && npm ci --no-audit --no-fund

# The SDK against a real server (Node, no flags).
test-sdk: sdk-deps
	cd sdk/js && npm test

# Browser and unit tests of the web app (installs npm packages and chromium).
test-web: sdk-deps
	cd web && npm ci --no-audit --no-fund && npm run test-all

# Refresh docs/screenshots from the browser tests.
screenshots: sdk-deps
	cd web && npm ci --no-audit --no-fund && UPDATE_SCREENSHOTS=1 npm run e2e

# Rebuild the embedded web app into web/dist (commit the result).
web: sdk-deps
	cd web && npm ci && npm run build

build:
	CGO_ENABLED=0 $(GO) build -o pocketbus ./cmd/pocketbus

bench:
	$(GO) run ./cmd/pocketbus-bench
