.PHONY: run test lint bench bench-quick clean

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

lint:
	.venv/bin/python -m ruff check .

bench:
	CHAINGRAD_EXTRAS="bench" bash -c 'source scripts/env.sh && python -m benchmarks'

bench-quick:
	CHAINGRAD_EXTRAS="bench" bash -c 'source scripts/env.sh && python -m benchmarks --quick'

clean:
	rm -rf .venv .pytest_cache .hypothesis .ruff_cache runs
