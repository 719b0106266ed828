"""kubemu's benchmarks. Each module has `main(args) -> dict`: it prints a table and writes
`bench/results/<name>.json`. `python -m bench [name ...]` (or `make bench`) runs them."""
