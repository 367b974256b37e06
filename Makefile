# The two commands a newcomer needs (see README.md):
#   make serve   build the page with the sample disk and serve it on http://127.0.0.1:8080
#                (make build also writes dist/salvage.html: the page in one file, for file://)
#   make test    every test: native, wasm in a browser worker, browser end-to-end
# Both install what they need first (scripts/tools.sh; Debian, as root).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)

FIXTURES ?= tests/fixtures/out
PORT ?= 8080
# wasm-bindgen-test runs its tests in a browser through its WebDriver
# server; webdriver.json carries Chromium's flags.
WASM_TEST_ENV := CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=300

.PHONY: serve build single sample fixtures test test-native test-wasm test-e2e tools tools-test fuzz bench clean

serve: build sample
	python3 scripts/serve.py --port $(PORT) --dir www

build: tools
	python3 scripts/build-wasm.py
	node scripts/build-single.mjs

# The page in one file (dist/salvage.html), from what www/ holds now.
single:
	node scripts/build-single.mjs

# The single file carries the sample disk too, once the wasm is built.
sample: tools-test
	bash tests/fixtures/make.sh $(FIXTURES)
	python3 scripts/embed-sample.py $(FIXTURES)/sample.img.gz www/sample/sample-img-gz.js
	if [ -f www/pkg/salvage.js ]; then node scripts/build-single.mjs; fi

fixtures: tools-test
	bash tests/fixtures/make.sh $(FIXTURES)

test: tools-test fixtures test-native test-wasm build sample test-e2e
	@echo "make test: every part passed"

test-native:
	SALVAGE_FIXTURES=$(CURDIR)/$(FIXTURES) cargo test --all-targets

# The wasm tests run in a dedicated worker of each engine: Chromium, Firefox
# (geckodriver) and WebKit (WebKitWebDriver, on a virtual display).
test-wasm:
	$(WASM_TEST_ENV) cargo test --target wasm32-unknown-unknown --test web
	$(WASM_TEST_ENV) env -u CHROMEDRIVER GECKODRIVER=$$(command -v geckodriver) \
		cargo test --target wasm32-unknown-unknown --test web
	$(WASM_TEST_ENV) env -u CHROMEDRIVER SAFARIDRIVER=/usr/bin/WebKitWebDriver \
		xvfb-run -a cargo test --target wasm32-unknown-unknown --test web

test-e2e:
	SALVAGE_FIXTURES=$(CURDIR)/$(FIXTURES) npm test

# Export speed: native tools, then the page, on the same file set (prints rows; never fails on timing).
bench: build tools-test
	bash scripts/bench-export.sh /tmp/salvage-bench
	BENCH_IMAGE=/tmp/salvage-bench/disk.img BENCH_FOLDER=/ node scripts/bench-browser.mjs

tools:
	bash scripts/tools.sh

tools-test:
	bash scripts/tools.sh test

# Not part of `make test`: needs nightly and cargo-fuzz; SECONDS_EACH=600 per target.
fuzz:
	cd fuzz && cargo +nightly fuzz build -O && ./run.sh

clean:
	rm -rf www/pkg www/sample dist $(FIXTURES) test-results
