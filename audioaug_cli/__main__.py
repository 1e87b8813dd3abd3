from audioaug_cli.cli import entry

entry()
