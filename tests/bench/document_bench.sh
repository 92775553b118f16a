#!/usr/bin/env bash
# The document benchmark (issue 18): writes 200 pas-à-pas documents of 5,000 PDF pages (184 PDF,
# 8 DOCX, 8 ODT; make_documents.py --bench, Debian's reportlab, odfpy and python-docx; about
# 25 s, once: the corpus is kept and is the same at every run), then runs document_bench, one
# thread (not pinned: on a shared machine a pinned run waits for the core's other users). Prints
# figures, wall and CPU time, asserts nothing.
# Usage: tests/bench/document_bench.sh [DOCUMENT_BENCH] [CORPUS_DIR]
#   DOCUMENT_BENCH defaults to build/release/tests/bench/document_bench
#   (cmake --build --preset release --target document_bench), CORPUS_DIR to
#   build/release/tests/bench/document-corpus.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$(realpath "${1:-$top/build/release/tests/bench/document_bench}")
corpus=${2:-$top/build/release/tests/bench/document-corpus}
if [[ ! -f $corpus/.complete ]]; then
  /usr/bin/python3 -c 'import reportlab, odf, docx' || {
    echo "document_bench: python3-reportlab, python3-odf and python3-docx are needed" >&2
    exit 1
  }
  rm -rf "$corpus"
  /usr/bin/python3 -B "$top/tests/fixtures/documents/make_documents.py" --bench "$corpus"
  touch "$corpus/.complete"
fi
exec "$bench" "$corpus"
