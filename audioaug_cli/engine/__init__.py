"""The batch run: the Run and its plan, the workers, one item, the resume state, provenance."""
