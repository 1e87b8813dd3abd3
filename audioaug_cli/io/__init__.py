"""Every byte in or out of a run: audio codecs, atomic files, the walk of INPUT_DIR, the manifest CSVs."""
