# The two commands of the project. Both install what a fresh Debian/Ubuntu machine lacks first.
.PHONY: run test

run:  ## web server on http://127.0.0.1:5000 and a capture worker, until Ctrl-C
	@scripts/run.sh

test:  ## the whole suite against real Redis and real Chromium
	@scripts/test.sh
