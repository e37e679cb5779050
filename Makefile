# Earshot: the two commands a newcomer needs.
#   make demo   install what is missing, fetch tiny.en and a real recording, build, transcribe it
#   make test   fetch the test assets and run the whole test suite (release-optimised build)
#   make fuzz   libFuzzer + AddressSanitizer on every untrusted-bytes reader, FUZZ_SECONDS each (default 60)
#   make fuzz-smoke   the same, 30 s each (docs/reliability.md)
SHELL := /bin/bash
export EARSHOT_CACHE ?= $(HOME)/.cache/earshot
SWIFT_TEST_FLAGS := -c release -Xswiftc -enable-testing

.PHONY: demo test build deps assets venv clean fuzz fuzz-smoke fuzz-seeds

deps:
	@scripts/install-deps.sh

assets: deps
	@scripts/fetch-assets.sh all >/dev/null
	@scripts/fetch-funasr-client.sh >/dev/null

# The Python venv with the peers (faster-whisper, funasr-onnx): some tests check that faster-whisper loads
# what `earshot quantize` writes; the benchmarks in bench/ run the peers from it.
venv:
	@scripts/setup-venv.sh >/dev/null

build:
	swift build -c release --product earshot

demo: assets build
	.build/release/earshot transcribe "$(EARSHOT_CACHE)/audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav" \
	  --model "$(EARSHOT_CACHE)/models/whisper-tiny.en"

test: assets venv
	swift build $(SWIFT_TEST_FLAGS) --build-tests
	swift test $(SWIFT_TEST_FLAGS) --skip-build

FUZZ_SECONDS ?= 60
fuzz:
	Fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke:
	Fuzz/run.sh 30

# Regenerates the committed seed corpora (Fuzz/corpus) from the cached assets.
fuzz-seeds:
	python3 scripts/fuzz-seeds.py

clean:
	rm -rf .build
