"""The config language: its records (model), reading and checking a YAML file (load), the JSON Schema."""
