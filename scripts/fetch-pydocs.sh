#!/usr/bin/env bash
# Fetch the Python 3.11 documentation (Debian's python3.11-doc package) as a corpus of
# HTML pages for `rag index`, and the gold set rag/gold/python-3.11-docs.jsonl.
#
#   scripts/fetch-pydocs.sh [TARGET]   (default: corpora/python-3.11-docs in this repository)
#
# Writes the pages under TARGET, keeping their relative paths (library/itertools.html,
# ...), and the package's name and version to TARGET.source, a sibling file: a non-HTML
# file inside TARGET would be indexed as a document. Needs apt-get (no root: `apt-get
# download` only fetches the .deb) and dpkg-deb. Does nothing if TARGET already holds the
# pages and TARGET.source exists.
set -euo pipefail

PACKAGE=python3.11-doc
HTML_DIR=usr/share/doc/python3.11/html

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${1:-$repo/corpora/python-3.11-docs}
target=${target%/}
source_file="$target.source"

if [[ -f "$source_file" && -d "$target" ]] \
   && [[ -n "$(find "$target" -name '*.html' -print -quit)" ]]; then
  echo "$(cat "$source_file"): already in $target ($(find "$target" -name '*.html' | wc -l) pages)"
  exit 0
fi
if [[ -e "$target" ]]; then
  echo "error: $target exists but is not a complete fetch (no $source_file):" \
       "remove it and run again" >&2
  exit 1
fi

for tool in apt-get dpkg-deb; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: $tool not found: this script needs Debian's apt-get and dpkg-deb (on another" \
         "system, put the HTML pages of the Python 3.11 docs in $target yourself)" >&2
    exit 1
  fi
done

tmp=$(mktemp -d)
stage=""
trap 'rm -rf "$tmp" ${stage:+"$stage"} "$source_file.tmp"' EXIT

if ! (cd "$tmp" && apt-get download -q "$PACKAGE" >"$tmp/apt.log" 2>&1); then
  sed 's/^/  /' "$tmp/apt.log" >&2
  echo "error: 'apt-get download $PACKAGE' failed: run 'sudo apt-get update' (the package" \
       "is in Debian 12 bookworm's main archive) and try again" >&2
  exit 1
fi
deb=$(find "$tmp" -maxdepth 1 -name "${PACKAGE}_*.deb" -print -quit)
if [[ -z "$deb" ]]; then
  echo "error: apt-get download reported success but left no ${PACKAGE}_*.deb in $tmp" >&2
  exit 1
fi
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$tmp/root"
html="$tmp/root/$HTML_DIR"

# Only the *.html pages. Left out, because they are not documentation text:
#   _sources/       reST sources of every page (the same text again; .txt, not .html)
#   _static/        JavaScript, CSS and images of the theme
#   genindex*.html  the general index: 30 pages of term -> link lists
#   py-modindex.html  the module index (module names and one-line summaries)
#   search.html     the search form (needs JavaScript; no text)
#   contents.html   the complete table of contents: every section title of every page
#   index.html      the top-level landing page: links to the parts with a phrase each
# (Debian ships whatsnew/changelog.html gzipped, as changelog.html.gz: not *.html, so it
# stays out too; it is the 3.11.x NEWS file, a long list of issue titles.)
# Section index pages (library/index.html, tutorial/index.html, ...) stay: they carry a
# chapter's introduction as well as its table of contents.
mkdir -p "$(dirname "$target")"
parent=$(cd "$(dirname "$target")" && pwd)
stage="$parent/$(basename "$target").partial.$$"  # beside the target: one mv moves it in
mkdir -p "$stage"
(
  cd "$html"
  find . -type f -name '*.html' \
    ! -path './_sources/*' ! -path './_static/*' \
    ! -path './genindex*' ! -path './py-modindex.html' ! -path './search.html' \
    ! -path './contents.html' ! -path './index.html' \
    -print0 | xargs -0 cp --parents -t "$stage"
)
pages=$(find "$stage" -name '*.html' | wc -l)
if (( pages < 400 )); then
  echo "error: only $pages HTML pages in $PACKAGE $version (expected about 500); not using them" >&2
  exit 1
fi

echo "$PACKAGE=$version" >"$source_file.tmp"
mv "$stage" "$target"
mv "$source_file.tmp" "$source_file"
echo "$PACKAGE=$version: $pages pages in $target"
