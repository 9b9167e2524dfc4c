#!/usr/bin/env bash
# Sizes of the browser bundle in target/site/pkg, raw and gzipped (-9):
# what every page loads first (the main module, its JS, the split loader),
# then each lazily loaded page module and shared chunk, and the total.
set -euo pipefail
pkg=${1:-target/site/pkg}
gz() { gzip -9 -c "$1" | wc -c; }
first_raw=0; first_gz=0
printf '%-58s %10s %10s\n' file bytes gzipped
for f in "$pkg"/vitrine.wasm "$pkg"/vitrine.js "$pkg"/__wasm_split.*.js; do
  [ -f "$f" ] || continue
  r=$(stat -c %s "$f"); g=$(gz "$f")
  first_raw=$((first_raw + r)); first_gz=$((first_gz + g))
  printf '%-58s %10d %10d\n' "$(basename "$f")" "$r" "$g"
done
printf '%-58s %10d %10d\n' "first load (every page)" "$first_raw" "$first_gz"
lazy_raw=0; lazy_gz=0
for f in "$pkg"/split_*.wasm "$pkg"/chunk_*.wasm; do
  [ -f "$f" ] || continue
  r=$(stat -c %s "$f"); g=$(gz "$f")
  lazy_raw=$((lazy_raw + r)); lazy_gz=$((lazy_gz + g))
  case "$f" in */split_*) printf '%-58s %10d %10d\n' "$(basename "$f")" "$r" "$g";; esac
done
printf '%-58s %10d %10d\n' "split pages and shared chunks, all" "$lazy_raw" "$lazy_gz"
printf '%-58s %10d %10d\n' "everything" "$((first_raw + lazy_raw))" "$((first_gz + lazy_gz))"
