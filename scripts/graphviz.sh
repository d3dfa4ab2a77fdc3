#!/usr/bin/env bash
# Make sure Graphviz's `dot` program is present: install it when we are root on Debian or
# Ubuntu, otherwise say how to get it. Drawing graphs works without it; rendering does not.
if command -v dot >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Graphviz (the 'dot' program) with apt-get" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz) >/dev/null \
        || echo "warning: apt-get could not install graphviz" >&2
elif [ "$(id -u)" = "0" ] && command -v dnf >/dev/null 2>&1; then
    echo "installing Graphviz (the 'dot' program) with dnf" >&2
    dnf install -y -q graphviz >/dev/null || echo "warning: dnf could not install graphviz" >&2
elif [ "$(uname -s)" = "Darwin" ] && command -v brew >/dev/null 2>&1; then
    echo "installing Graphviz (the 'dot' program) with brew" >&2
    brew install graphviz >/dev/null || echo "warning: brew could not install graphviz" >&2
fi
if ! command -v dot >/dev/null 2>&1; then
    cat >&2 <<'MSG'
warning: Graphviz's 'dot' program is not installed, so graphs cannot be rendered to
SVG/PNG/PDF (building them and writing .dot files still works; rendering tests are skipped).
Install it with one of:
  Debian/Ubuntu: sudo apt-get install graphviz     Fedora: sudo dnf install graphviz
  macOS:         brew install graphviz             conda:  conda install -c conda-forge graphviz
  Windows:       winget install graphviz
MSG
fi
exit 0
