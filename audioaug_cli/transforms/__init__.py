"""The transforms: names to classes (registry), the one boundary around audiomentations (compat), the
waveform pipeline and the spectrogram side."""
