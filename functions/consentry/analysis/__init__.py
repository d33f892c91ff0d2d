"""The delivery analysis: its contract, reading audiences, the exclusion order and the
classifier, the suppression data it reads, and a run's files and record."""
