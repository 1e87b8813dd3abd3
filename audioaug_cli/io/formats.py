"""What audio files are, as far as choosing and naming them goes: no numpy, no soundfile, so
that checking a config and walking INPUT_DIR (all a finished rerun does) import neither."""

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")  # what the walk takes, any case
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the only rates Opus holds
